package kiln_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
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
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const oidcSpec = `name: sso
roles: [admin, member]
auth:
  account: users
  public_url: ${KILN_PUBLIC_URL}
  providers:
    corp:
      issuer: ${OP_ISSUER}
      client_id: kiln
      client_secret: ${OP_SECRET}
resources:
  users:
    fields:
      name: string
    access:
      view: "record.id == auth.id"
`

// startProvider runs a real OpenID Provider (zitadel/oidc's certified OP with its example
// login page and users) on a free 127.0.0.1 port.
func startProvider(t *testing.T, redirectURI string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	issuer := "http://" + ln.Addr().String()
	storage.RegisterClients(storage.WebClient("kiln", "kiln-secret", redirectURI))
	router := exampleop.SetupServer(issuer, storage.NewStorage(storage.NewUserStore(issuer)), slog.New(slog.DiscardHandler), false)
	srv := &http.Server{Handler: router}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return issuer
}

func TestOIDCLoginEndToEnd(t *testing.T) {
	// exampleop replaces the default slog logger and registers clients globally: the dialects
	// run one after the other, outside the parallel pool.
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) { testOIDCLogin(t, dialect) })
	}
}

func testOIDCLogin(t *testing.T, dialect string) {
	var handler atomic.Value
	kilnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer kilnSrv.Close()
	issuer := startProvider(t, kilnSrv.URL+"/api/auth/oauth/corp/callback")

	dir := t.TempDir()
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(oidcSpec), 0o644))
	env := map[string]string{"KILN_PUBLIC_URL": kilnSrv.URL, "OP_ISSUER": issuer, "OP_SECRET": "kiln-secret"}
	cfg := kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, AuthSecret: testSecret, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	if dialect == "postgres" {
		cfg.DatabaseURL = testdb.PostgresURL(t)
	}
	app, err := kiln.New(context.Background(), cfg)
	require.NoError(t, err)
	defer app.Close()
	handler.Store(app.Handler())

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	// Start: Kiln redirects to the provider, which shows its login page.
	res, err := client.Get(kilnSrv.URL + "/api/auth/oauth/corp/start")
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(page))
	authRequestID := res.Request.URL.Query().Get("authRequestID")
	require.NotEmpty(t, authRequestID, "landed on %s", res.Request.URL)

	// The user signs in at the provider; its redirects end at Kiln's callback.
	host := strings.Split(strings.TrimPrefix(issuer, "http://"), ":")[0]
	res, err = client.PostForm(issuer+"/login/username", url.Values{"id": {authRequestID},
		"username": {"test-user@" + host}, "password": {"verysecure"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	require.Contains(t, res.Request.URL.Path, "/api/auth/oauth/corp/callback")
	var pair map[string]any
	require.NoError(t, json.Unmarshal(body, &pair))
	require.Equal(t, "test-user@zitadel.ch", pair["user"].(map[string]any)["email"], "linked by the provider-verified email")
	require.Equal(t, true, pair["user"].(map[string]any)["verified"])

	// Kiln's own access token works.
	req, _ := http.NewRequest("GET", kilnSrv.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+pair["access_token"].(string))
	me, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	me.Body.Close()
	require.Equal(t, http.StatusOK, me.StatusCode)

	// Replaying the callback (a stolen code, or no state cookie) is refused.
	replay, err := http.Get(res.Request.URL.String())
	require.NoError(t, err)
	replay.Body.Close()
	require.Equal(t, http.StatusUnauthorized, replay.StatusCode)
}

// A login provider that cannot be reached is its outage, not Kiln's: 503 with Retry-After and
// the API's problem, not a 500 (a helper found the discovery error returned unwrapped).
func TestOIDCProviderDownIsUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	issuer := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	dir := t.TempDir()
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(oidcSpec), 0o644))
	env := map[string]string{"KILN_PUBLIC_URL": "http://127.0.0.1:1", "OP_ISSUER": issuer, "OP_SECRET": "s"}
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, AuthSecret: testSecret, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	for _, path := range []string{"/api/auth/oauth/corp/start", "/api/auth/oauth/corp/callback?code=x&state=y"} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s: %s", path, body)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
		require.Contains(t, string(body), `"error":"unavailable"`)
		require.NotContains(t, string(body), "127.0.0.1", "the cause stays in the log")
	}
}
