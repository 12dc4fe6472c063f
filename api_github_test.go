package kiln_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

const githubSpec = `name: sso
roles: [admin, member]
auth:
  account: users
  public_url: ${KILN_PUBLIC_URL}
  providers:
    gh:
      preset: github
      client_id: kiln
      client_secret: kiln-secret
      auth_url: ${GH_AUTH_URL}
      token_url: ${GH_TOKEN_URL}
      api_url: ${GH_API_URL}
      scopes: [openid, email]   # the stand-in server's names for read:user and user:email
resources:
  users:
    fields:
      name: string
`

// TestGitHubPresetLogin runs the GitHub flow (OAuth2 code exchange, then the /user/emails API)
// with zitadel's real OAuth2 server for authorize and token; the emails endpoint answers in
// GitHub's format from that server's userinfo for the same access token.
func TestGitHubPresetLogin(t *testing.T) {
	var handler atomic.Value
	kilnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer kilnSrv.Close()
	issuer := startProvider(t, kilnSrv.URL+"/api/auth/oauth/gh/callback")
	var disc struct {
		Auth     string `json:"authorization_endpoint"`
		Token    string `json:"token_endpoint"`
		UserInfo string `json:"userinfo_endpoint"`
	}
	res, err := http.Get(issuer + "/.well-known/openid-configuration")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(res.Body).Decode(&disc))
	res.Body.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/user/emails" {
			http.NotFound(w, r)
			return
		}
		req, _ := http.NewRequest("GET", disc.UserInfo, nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		ui, err := http.DefaultClient.Do(req)
		if err != nil || ui.StatusCode != http.StatusOK {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		var claims struct {
			Email    string `json:"email"`
			Verified bool   `json:"email_verified"`
		}
		_ = json.NewDecoder(ui.Body).Decode(&claims)
		ui.Body.Close()
		_ = json.NewEncoder(w).Encode([]map[string]any{{"email": "old@example.com", "primary": false, "verified": false},
			{"email": claims.Email, "primary": true, "verified": claims.Verified}})
	}))
	defer api.Close()

	dir := t.TempDir()
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(githubSpec), 0o644))
	env := map[string]string{"KILN_PUBLIC_URL": kilnSrv.URL, "GH_AUTH_URL": disc.Auth, "GH_TOKEN_URL": disc.Token, "GH_API_URL": api.URL}
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, AuthSecret: testSecret, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	defer app.Close()
	handler.Store(app.Handler())

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, err = client.Get(kilnSrv.URL + "/api/auth/oauth/gh/start")
	require.NoError(t, err)
	res.Body.Close()
	id := res.Request.URL.Query().Get("authRequestID")
	require.NotEmpty(t, id, "landed on %s", res.Request.URL)
	host := strings.Split(strings.TrimPrefix(issuer, "http://"), ":")[0]
	res, err = client.PostForm(issuer+"/login/username", url.Values{"id": {id}, "username": {"test-user@" + host}, "password": {"verysecure"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	var pair map[string]any
	require.NoError(t, json.Unmarshal(body, &pair))
	require.Equal(t, "test-user@zitadel.ch", pair["user"].(map[string]any)["email"], "the primary verified address")
}
