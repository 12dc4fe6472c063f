package kiln_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInviteOnlySignup(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("examples/shop/kiln.yaml")
	require.NoError(t, err)
	inviteOnly := strings.Replace(string(src), "signup: open", "signup: invite", 1)
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, inviteOnly)
		res := b.anon("POST", "/api/auth/signup", map[string]any{"email": "new@example.com", "password": "a long password"})
		require.Equal(t, http.StatusBadRequest, res.status)
		require.Equal(t, map[string]string{"invite": "required"}, fieldCodes(res.body))

		require.Equal(t, http.StatusForbidden, b.do("POST", "/api/auth/invites", map[string]any{"email": "new@example.com", "role": "staff"},
			bearer(b.token("staff"))...).status, "only admins invite")
		require.Equal(t, http.StatusAccepted, b.do("POST", "/api/auth/invites", map[string]any{"email": "New@Example.com", "role": "staff"}).status)
		code := b.lastMailCode(b.dataDir)

		wrong := b.anon("POST", "/api/auth/signup", map[string]any{"email": "other@example.com", "password": "a long password", "invite": code})
		require.Equal(t, map[string]string{"email": "mismatch"}, fieldCodes(wrong.body))
		// a sign-up the write refuses (a short password) leaves the invitation usable
		short := b.anon("POST", "/api/auth/signup", map[string]any{"email": "new@example.com", "password": "short", "invite": code})
		require.Equal(t, map[string]string{"password": "min_length"}, fieldCodes(short.body), string(short.raw))
		ok := b.anon("POST", "/api/auth/signup", map[string]any{"email": "new@example.com", "password": "a long password", "invite": code})
		require.Equal(t, http.StatusCreated, ok.status, string(ok.raw))
		user := ok.body["user"].(map[string]any)
		require.Equal(t, "staff", user["role"], "the invitation grants its role")
		require.Equal(t, true, user["verified"])
		again := b.anon("POST", "/api/auth/signup", map[string]any{"email": "new2@example.com", "password": "a long password", "invite": code})
		require.Equal(t, http.StatusUnauthorized, again.status, "an invitation works once")
	})
}
