package kiln_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mailTo returns the newest outbox message addressed to addr ("" when none).
func (b *testBundle) mailTo(addr string) string {
	b.t.Helper()
	files, err := filepath.Glob(filepath.Join(b.dataDir, "outbox", "*.eml"))
	require.NoError(b.t, err)
	for i := len(files) - 1; i >= 0; i-- {
		raw, err := os.ReadFile(files[i])
		require.NoError(b.t, err)
		if strings.HasPrefix(string(raw), "To: "+addr+"\n") {
			return string(raw)
		}
	}
	return ""
}

// signup makes an account with a password and returns its id, access and refresh tokens.
func (b *testBundle) signup(email, password string) (id, access, refresh string) {
	b.t.Helper()
	res := b.anon("POST", "/api/auth/signup", map[string]any{"email": email, "password": password})
	require.Equal(b.t, http.StatusCreated, res.status, string(res.raw))
	return res.body["user"].(map[string]any)["id"].(string), res.body["access_token"].(string), res.body["refresh_token"].(string)
}

func (b *testBundle) loginStatus(email, password string) int {
	b.t.Helper()
	return b.anon("POST", "/api/auth/login", map[string]any{"email": email, "password": password}).status
}

// A stolen access token alone cannot take an account: PATCH and PUT never set a password,
// the old one keeps working, and the refusal says where passwords are changed.
func TestSelfPatchOfPasswordWithATokenAloneLeavesTheOldPasswordWorking(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id, access, _ := b.signup("victim@example.com", "the real password")
		for _, method := range []string{"PATCH", "PUT"} {
			res := b.do(method, "/api/users/"+id, map[string]any{"password": "attacker password", "email": "victim@example.com"}, bearer(access)...)
			require.Equal(t, http.StatusBadRequest, res.status, method)
			require.Equal(t, map[string]string{"password": "not_allowed"}, fieldCodes(res.body), method)
			require.Contains(t, string(res.raw), "/api/auth/password", "the error points at the endpoint that changes passwords")
		}
		admin := b.do("PATCH", "/api/users/"+id, map[string]any{"password": "admin chosen password"})
		require.Equal(t, http.StatusBadRequest, admin.status, "administrators use the explicit reset path, not PATCH")
		require.Equal(t, http.StatusOK, b.loginStatus("victim@example.com", "the real password"))
		require.Equal(t, http.StatusUnauthorized, b.loginStatus("victim@example.com", "attacker password"))
	})
}

// The administrators' path to set another account's password: accounts of admin_roles only,
// never their own account, and it ends every session of the account.
func TestAdminResetOfAnotherAccountsPasswordRevokesItsSessions(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id, _, refresh := b.signup("reset-me@example.com", "the old password")
		path := "/api/auth/accounts/" + id + "/password"
		body := map[string]any{"new_password": "set by the admin"}
		require.Equal(t, http.StatusForbidden, b.do("POST", path, body, bearer(b.token("staff"))...).status, "staff do not administer")
		require.Equal(t, http.StatusUnauthorized, b.anon("POST", path, body).status)
		key := b.do("POST", "/api/auth/keys", map[string]any{"name": "k", "role": "admin", "scopes": []string{"*:*"}})
		require.Equal(t, http.StatusForbidden, b.do("POST", path, body, bearer(key.body["key"].(string))...).status, "API keys are not accounts")
		adminID := b.account("admin")
		require.Equal(t, http.StatusForbidden, b.do("POST", "/api/auth/accounts/"+adminID+"/password", body, bearer(b.tokenFor(adminID))...).status,
			"not for one's own account")
		require.Equal(t, http.StatusNotFound, b.do("POST", "/api/auth/accounts/not-a-uuid/password", body).status)

		require.Equal(t, http.StatusNoContent, b.do("POST", path, body).status)
		require.Equal(t, http.StatusUnauthorized, b.loginStatus("reset-me@example.com", "the old password"))
		require.Equal(t, http.StatusOK, b.loginStatus("reset-me@example.com", "set by the admin"))
		require.Equal(t, http.StatusUnauthorized, b.anon("POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh}).status,
			"the account's sessions ended")
	})
}

// Changing one's own email needs the current password, unverifies the account, mails a
// verification code to the new address and a notice to the old one.
func TestSelfServiceEmailChangeNeedsThePasswordAndReverifies(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id, access, _ := b.signup("old@example.com", "my own password")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/users/"+id, map[string]any{"verified": true}).status)

		patch := b.do("PATCH", "/api/users/"+id, map[string]any{"email": "attacker@example.com"}, bearer(access)...)
		require.Equal(t, http.StatusBadRequest, patch.status)
		require.Equal(t, map[string]string{"email": "not_allowed"}, fieldCodes(patch.body))
		same := b.do("PATCH", "/api/users/"+id, map[string]any{"email": "old@example.com", "name": "Me"}, bearer(access)...)
		require.Equal(t, http.StatusOK, same.status, "sending the unchanged email is no change")

		wrong := b.do("POST", "/api/auth/email", map[string]any{"current_password": "a guess", "new_email": "attacker@example.com"}, bearer(access)...)
		require.Equal(t, http.StatusBadRequest, wrong.status)
		require.Equal(t, map[string]string{"current_password": "mismatch"}, fieldCodes(wrong.body))
		me := b.do("GET", "/api/auth/me", nil, bearer(access)...)
		require.Equal(t, "old@example.com", me.body["email"])
		require.Equal(t, true, me.body["verified"])

		ok := b.do("POST", "/api/auth/email", map[string]any{"current_password": "my own password", "new_email": "New@Example.com"}, bearer(access)...)
		require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
		require.Equal(t, "new@example.com", ok.body["email"])
		require.Equal(t, false, ok.body["verified"], "a new address is unverified")
		verification := b.mailTo("new@example.com")
		require.Contains(t, verification, "Subject: Confirm your new email address")
		code := regexp.MustCompile(`(?m)^([A-Za-z0-9_-]{43})$`).FindStringSubmatch(verification)
		require.NotNil(t, code)
		require.Contains(t, b.mailTo("old@example.com"), "changed to new@example.com", "the old address hears of it")
		require.Equal(t, http.StatusNoContent, b.anon("POST", "/api/auth/verify/confirm", map[string]any{"token": code[1]}).status)
		require.Equal(t, true, b.do("GET", "/api/auth/me", nil, bearer(access)...).body["verified"])
		require.Equal(t, http.StatusOK, b.loginStatus("new@example.com", "my own password"))
		require.Equal(t, http.StatusUnauthorized, b.loginStatus("old@example.com", "my own password"))

		taken := b.do("POST", "/api/auth/email", map[string]any{"current_password": "my own password", "new_email": b.adminEmail()}, bearer(access)...)
		require.Equal(t, http.StatusConflict, taken.status)
		require.Equal(t, map[string]string{"new_email": "unique"}, fieldCodes(taken.body))
	})
}

// An administrator may change another account's address through PATCH; the account becomes
// unverified unless the same request says otherwise.
func TestAdminEmailChangeUnverifiesTheAccount(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id, _, _ := b.signup("someone@example.com", "their password")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/users/"+id, map[string]any{"verified": true}).status)
		res := b.do("PATCH", "/api/users/"+id, map[string]any{"email": "moved@example.com"})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, false, res.body["verified"])
		res = b.do("PATCH", "/api/users/"+id, map[string]any{"email": "moved-again@example.com", "verified": true})
		require.Equal(t, true, res.body["verified"], "unless the administrator says it is verified")
	})
}

func (b *testBundle) adminEmail() string {
	b.t.Helper()
	me := b.do("GET", "/api/auth/me", nil)
	require.Equal(b.t, http.StatusOK, me.status)
	return me.body["email"].(string)
}
