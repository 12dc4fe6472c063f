package kiln_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/service"
)

// Many people signing in at once from one address (an office behind NAT, a server-side
// front end) have made no failed attempt: none of them may be refused as if they had.
func TestConcurrentSuccessfulLoginsFromOneAddressAreNotRefused(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		const n = 20
		role := b.app.Spec.Auth.DefaultRole
		for i := 0; i < n; i++ {
			_, err := b.app.Service.Create(service.AsSystem(context.Background()), b.app.Spec.Auth.Account,
				map[string]any{"email": fmt.Sprintf("user%d@example.com", i), "password": "right password", "role": role}, service.WriteOpts{})
			require.NoError(t, err)
		}
		counts := statusCounts(n, func(i int) int {
			return b.anon("POST", "/api/auth/login", map[string]any{"email": fmt.Sprintf("user%d@example.com", i), "password": "right password"}).status
		})
		require.Equal(t, map[int]int{http.StatusOK: n}, counts, "correct passwords, no failure at all")
	})
}
