package kiln_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// A database outage is 503 `unavailable` with Retry-After — never a 500 — /readyz says not
// ready, a write refused during it left nothing behind, and the instance heals by itself.
func TestDatabaseOutageIs503AndHeals(t *testing.T) {
	t.Parallel()
	pgURL := testdb.PostgresURL(t)
	u, err := url.Parse(pgURL)
	require.NoError(t, err)
	proxy := testdb.StartProxy(t, u.Host)
	dir := t.TempDir()
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "migrations"), DatabaseURL: proxy.Via(pgURL), Dev: true, LookupEnv: noEnv,
		AuthSecret: testSecret, NoRateLimits: true})
	require.NoError(t, err)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() { srv.Close(); _ = app.Close() })
	b := &testBundle{app: app, srv: srv, t: t, dataDir: dir}
	b.admin = b.token("admin")
	require.Equal(t, http.StatusOK, b.do("GET", "/api/products", nil).status)

	proxy.Cut()
	for _, req := range []struct{ method, path string }{{"GET", "/api/products"}, {"POST", "/api/products"}, {"GET", "/api/auth/me"}} {
		var body any
		if req.method == "POST" {
			body = map[string]any{"name": "During the outage", "price": 1}
		}
		res := b.do(req.method, req.path, body)
		require.Equal(t, http.StatusServiceUnavailable, res.status, "%s %s: %s", req.method, req.path, res.raw)
		require.Equal(t, "unavailable", res.body["error"])
		require.Equal(t, "2", res.header.Get("Retry-After"))
		require.NotContains(t, string(res.raw), "127.0.0.1", "nothing internal reaches the client")
	}
	login := b.anon("POST", "/api/auth/login", map[string]any{"email": "a@example.com", "password": "whatever-it-is"})
	require.Equal(t, http.StatusServiceUnavailable, login.status, "an outage is not a wrong password")
	require.Equal(t, http.StatusServiceUnavailable, b.do("GET", "/readyz", nil).status)

	proxy.Restore()
	require.Eventually(t, func() bool { return b.do("GET", "/readyz", nil).status == http.StatusOK }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return b.do("GET", "/api/products", nil).status == http.StatusOK }, 20*time.Second, 20*time.Millisecond)
	list := b.do("GET", "/api/products?filter="+url.QueryEscape(`name == "During the outage"`)+"&count=true", nil)
	require.Equal(t, http.StatusOK, list.status)
	require.EqualValues(t, "0", list.body["total"].(interface{ String() string }).String(), "the refused write left nothing")
}
