package kiln_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// lastMailCode reads the code from the newest message in the test server's outbox.
func (b *testBundle) lastMailCode(dataDir string) string {
	b.t.Helper()
	b.app.Accounts.FlushResets() // reset mails are sent after the answer
	files, err := filepath.Glob(filepath.Join(dataDir, "outbox", "*.eml"))
	require.NoError(b.t, err)
	require.NotEmpty(b.t, files, "no mail was sent")
	raw, err := os.ReadFile(files[len(files)-1])
	require.NoError(b.t, err)
	m := regexp.MustCompile(`(?m)^([A-Za-z0-9_-]{43})$`).FindStringSubmatch(string(raw))
	require.NotNil(b.t, m, "no code in %s", raw)
	return m[1]
}

func TestPasswordChangeResetAndVerification(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		res := b.anon("POST", "/api/auth/signup", map[string]any{"email": "pw@example.com", "password": "first password"})
		require.Equal(t, http.StatusCreated, res.status)
		access, refresh := res.body["access_token"].(string), res.body["refresh_token"].(string)
		other := b.anon("POST", "/api/auth/login", map[string]any{"email": "pw@example.com", "password": "first password"})
		otherRefresh := other.body["refresh_token"].(string)

		wrong := b.do("POST", "/api/auth/password", map[string]any{"current_password": "nope nope", "new_password": "second password"}, bearer(access)...)
		require.Equal(t, http.StatusBadRequest, wrong.status)
		require.Equal(t, map[string]string{"current_password": "mismatch"}, fieldCodes(wrong.body))
		short := b.do("POST", "/api/auth/password", map[string]any{"current_password": "first password", "new_password": "short"}, bearer(access)...)
		require.Equal(t, map[string]string{"new_password": "min_length"}, fieldCodes(short.body))
		require.Equal(t, http.StatusNoContent, b.do("POST", "/api/auth/password",
			map[string]any{"current_password": "first password", "new_password": "second password"}, bearer(access)...).status)
		require.Equal(t, http.StatusUnauthorized, b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": otherRefresh}).status,
			"a password change ends the other sessions")
		kept := b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh})
		require.Equal(t, http.StatusOK, kept.status, "but keeps the one that changed it")
		second := b.anon("POST", "/api/auth/login", map[string]any{"email": "pw@example.com", "password": "second password"})
		require.Equal(t, http.StatusOK, second.status)
		sessions := []string{kept.body["refresh_token"].(string), second.body["refresh_token"].(string)}

		require.Equal(t, http.StatusAccepted, b.anon("POST", "/api/auth/password/reset", map[string]any{"email": "nobody@example.com"}).status,
			"unknown emails get the same answer")
		require.Equal(t, http.StatusAccepted, b.anon("POST", "/api/auth/password/reset", map[string]any{"email": "pw@example.com"}).status)
		code := b.lastMailCode(b.dataDir)
		// a password the account refuses does not use the code up (it did: a trial then got 401
		// for a good one)
		tooShort := b.anon("POST", "/api/auth/password/reset/confirm", map[string]any{"token": code, "new_password": "short"})
		require.Equal(t, http.StatusBadRequest, tooShort.status, string(tooShort.raw))
		require.Equal(t, map[string]string{"new_password": "min_length"}, fieldCodes(tooShort.body))
		require.Equal(t, http.StatusNoContent, b.anon("POST", "/api/auth/password/reset/confirm", map[string]any{"token": code, "new_password": "third password"}).status)
		require.Equal(t, http.StatusUnauthorized, b.anon("POST", "/api/auth/password/reset/confirm", map[string]any{"token": code, "new_password": "fourth password"}).status,
			"codes work once")
		for i, rt := range sessions {
			require.Equal(t, http.StatusUnauthorized, b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": rt}).status,
				"a reset ends every session (session %d)", i+1)
		}
		old := b.anon("POST", "/api/auth/login", map[string]any{"email": "pw@example.com", "password": "second password"})
		require.Equal(t, http.StatusUnauthorized, old.status, "the password before the reset no longer works")
		require.Equal(t, "unauthorized", old.body["error"])
		require.Equal(t, http.StatusOK, b.anon("POST", "/api/auth/login", map[string]any{"email": "pw@example.com", "password": "third password"}).status)

		login := b.anon("POST", "/api/auth/login", map[string]any{"email": "pw@example.com", "password": "third password"})
		tok := login.body["access_token"].(string)
		require.Equal(t, http.StatusAccepted, b.do("POST", "/api/auth/verify", map[string]any{}, bearer(tok)...).status)
		require.Equal(t, http.StatusNoContent, b.anon("POST", "/api/auth/verify/confirm", map[string]any{"token": b.lastMailCode(b.dataDir)}).status)
		require.Equal(t, true, b.do("GET", "/api/auth/me", nil, bearer(tok)...).body["verified"])
	})
}
