package kiln_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/testdb"
)

func TestAnonymousRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	for i := 1; i <= 60; i++ {
		res := b.anon("GET", "/api/products", nil)
		require.Equal(t, http.StatusOK, res.status, "request %d", i)
		require.Equal(t, "60", res.header.Get("RateLimit-Limit"))
	}
	res := b.anon("GET", "/api/products", nil)
	require.Equal(t, http.StatusTooManyRequests, res.status)
	require.Equal(t, "rate_limited", res.body["error"])
	require.NotEmpty(t, res.header.Get("Retry-After"))
	require.Equal(t, "0", res.header.Get("RateLimit-Remaining"))
	require.Equal(t, http.StatusOK, b.do("GET", "/api/products", nil).status, "signed-in requests have their own budget")
}

func TestInstancesShareRateLimitsThroughRedis(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t, nil)
	get := func(srv *httptest.Server) int {
		res, err := http.Get(srv.URL + "/api/products")
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	for i := 0; i < 30; i++ {
		require.Equal(t, http.StatusOK, get(a))
		require.Equal(t, http.StatusOK, get(b))
	}
	require.Equal(t, http.StatusTooManyRequests, get(a), "the 61st request, whichever instance gets it")
	require.Equal(t, http.StatusTooManyRequests, get(b))
}

func TestLoginBackOffIsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t, map[string]string{"KILN_RATE_AUTH": "1000/min"})
	login := func(srv *httptest.Server) int {
		res, err := http.Post(srv.URL+"/api/auth/login", "application/json", strings.NewReader(`{"email":"victim@example.com","password":"guess"}`))
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	for i := 0; i < 5; i++ {
		require.Equal(t, http.StatusUnauthorized, login(a))
		require.Equal(t, http.StatusUnauthorized, login(b))
	}
	require.Equal(t, http.StatusTooManyRequests, login(a), "ten failures across instances lock the email")
	require.Equal(t, http.StatusTooManyRequests, login(b))
}

// twoInstances starts two shop instances on one PostgreSQL schema and one Redis, with a key
// prefix of their own; extra adds environment settings.
func twoInstances(t *testing.T, extra map[string]string) (*httptest.Server, *httptest.Server) {
	redisURL := testdb.RedisURL(t)
	pgURL := testdb.PostgresURL(t)
	var p [6]byte
	_, _ = rand.Read(p[:])
	env := map[string]string{"KILN_REDIS_URL": redisURL, "KILN_REDIS_PREFIX": "kiln-test-" + hex.EncodeToString(p[:]) + ":"}
	for k, v := range extra {
		env[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	migrations := filepath.Join(t.TempDir(), "migrations")
	start := func() *httptest.Server {
		app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: t.TempDir(),
			MigrationsDir: migrations, DatabaseURL: pgURL, Dev: true, LookupEnv: lookup, AuthSecret: testSecret})
		require.NoError(t, err)
		srv := httptest.NewServer(app.Handler())
		t.Cleanup(func() { srv.Close(); _ = app.Close() })
		return srv
	}
	return start(), start()
}
