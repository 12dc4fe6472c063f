package kiln_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kiln-dev/kiln/internal/store"
)

// A login that upgrades an imported (bcrypt) password hash while a password reset of the
// account commits does not bring the old password back: the upgrade writes the hash of the
// password the login verified against the account as read before the reset — it must not
// overwrite a password set since. Nor does that login's session outlive the reset, which
// ends every session of the account.
func TestLoginHashUpgradeDoesNotUndoAConcurrentReset(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		res := b.anon("POST", "/api/auth/signup", map[string]any{"email": "imp@example.com", "password": "old password"})
		require.Equal(t, http.StatusCreated, res.status)
		// an account imported from another system: a bcrypt hash, slow enough to verify that
		// the reset below commits while the login verifies it
		h, err := bcrypt.GenerateFromPassword([]byte("old password"), 13)
		require.NoError(t, err)
		require.NoError(t, b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
			return tx.ExecRaw(context.Background(), "UPDATE users SET password_hash = ? WHERE email = ?", string(h), "imp@example.com")
		}))

		require.Equal(t, http.StatusAccepted, b.anon("POST", "/api/auth/password/reset", map[string]any{"email": "imp@example.com"}).status)
		code := b.lastMailCode(b.dataDir)
		var wg sync.WaitGroup
		var login response
		wg.Add(1)
		go func() {
			defer wg.Done()
			login = b.anon("POST", "/api/auth/login", map[string]any{"email": "imp@example.com", "password": "old password"})
		}()
		time.Sleep(100 * time.Millisecond) // the login is verifying the bcrypt hash
		require.Equal(t, http.StatusNoContent, b.anon("POST", "/api/auth/password/reset/confirm", map[string]any{"token": code, "new_password": "new password"}).status)
		wg.Wait()
		require.Contains(t, []int{http.StatusOK, http.StatusUnauthorized}, login.status, "the login raced the reset")

		assert.Equal(t, http.StatusOK, b.anon("POST", "/api/auth/login", map[string]any{"email": "imp@example.com", "password": "new password"}).status,
			"the password the reset set works")
		assert.Equal(t, http.StatusUnauthorized, b.anon("POST", "/api/auth/login", map[string]any{"email": "imp@example.com", "password": "old password"}).status,
			"the password before the reset no longer works")
		if login.status == http.StatusOK {
			assert.Equal(t, http.StatusUnauthorized, b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": login.body["refresh_token"]}).status,
				"a reset ends every session, the racing login's too")
		}
	})
}
