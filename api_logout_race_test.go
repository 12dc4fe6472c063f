package kiln_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A logout ends its session also when a refresh of the same token runs at once: the
// successor token the refresh hands out must not outlive the logout. On PostgreSQL the
// logout's UPDATE of the family's rows waited for the refresh's lock on the token's row and,
// its snapshot taken before the refresh inserted the successor, left the successor live.
func TestLogoutDuringARefreshEndsTheSession(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupEnv(t, dialect, "", nil, map[string]string{"KILN_RATE_AUTH": "100000/min", "KILN_RATE_ANONYMOUS": "100000/min"})
		id := b.account("customer")
		survived := 0
		for range 20 {
			pair, err := b.app.Accounts.StartSession(context.Background(), id)
			require.NoError(t, err)
			rt := pair.RefreshToken
			var wg sync.WaitGroup
			var refreshed, out response
			wg.Add(2)
			go func() {
				defer wg.Done()
				refreshed = b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": rt})
			}()
			go func() { defer wg.Done(); out = b.anon("POST", "/api/auth/logout", map[string]any{"refresh_token": rt}) }()
			wg.Wait()
			require.Equal(t, http.StatusNoContent, out.status)
			if refreshed.status != http.StatusOK {
				continue
			}
			next := b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refreshed.body["refresh_token"]})
			if next.status == http.StatusOK {
				survived++
			}
		}
		assert.Zero(t, survived, "sessions whose successor token still refreshed after the logout")
	})
}
