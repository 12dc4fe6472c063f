package kiln_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
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
		require.Equal(t, `"anonymous";q=60;w=60`, res.header.Get("RateLimit-Policy"))
		require.Equal(t, strconv.Itoa(60-i), rateLimitParam(t, res.header, "r"), "request %d", i)
	}
	res := b.anon("GET", "/api/products", nil)
	require.Equal(t, http.StatusTooManyRequests, res.status)
	require.Equal(t, "rate_limited", res.body["error"])
	require.NotEmpty(t, res.header.Get("Retry-After"))
	require.Equal(t, "0", rateLimitParam(t, res.header, "r"))
	require.Equal(t, res.header.Get("Retry-After"), rateLimitParam(t, res.header, "t"))
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
	loginAs := func(srv *httptest.Server, email string) int {
		res, err := http.Post(srv.URL+"/api/auth/login", "application/json", strings.NewReader(`{"email":"`+email+`","password":"guess"}`))
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	login := func(srv *httptest.Server) int { return loginAs(srv, "victim@example.com") }
	for i := 0; i < 5; i++ {
		require.Equal(t, http.StatusUnauthorized, login(a))
		require.Equal(t, http.StatusUnauthorized, login(b))
	}
	require.Equal(t, http.StatusTooManyRequests, login(a), "ten failures across instances lock the email")
	require.Equal(t, http.StatusTooManyRequests, login(b))
	require.Equal(t, http.StatusUnauthorized, loginAs(a, "colleague@example.com"), "not the address: its budget is 100")
	require.Equal(t, http.StatusUnauthorized, loginAs(b, "colleague@example.com"))
}

// twoInstances starts two shop instances on one PostgreSQL schema and one Redis, with a key
// prefix of their own; extra adds environment settings.
func twoInstances(t *testing.T, extra map[string]string) (*httptest.Server, *httptest.Server) {
	redisURL := testdb.RedisURL(t)
	pgURL := testdb.PostgresURL(t)
	var p [6]byte
	_, _ = rand.Read(p[:])
	env := map[string]string{"KILN_REDIS_URL": redisURL, "KILN_REDIS_PREFIX": "kiln-test-" + hex.EncodeToString(p[:]) + ":",
		"KILN_REDIS_TIMEOUT": "2s"} // sharing is what these tests check: a busy machine must not trip the breaker
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

// The OpenAPI document describes the RateLimit headers and the 429, and a real 429 conforms.
func TestRateLimitsAreDocumented(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	res := b.do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	doc, err := libopenapi.NewDocument(res.raw)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	list := res.body["paths"].(map[string]any)["/api/products"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)
	require.Contains(t, list, "429")
	require.Contains(t, list["200"].(map[string]any)["headers"], "RateLimit")
	require.Contains(t, list["200"].(map[string]any)["headers"], "RateLimit-Policy")

	var last *http.Response
	for i := 0; i < 61; i++ {
		r, err := http.Get(b.srv.URL + "/api/products")
		require.NoError(t, err)
		raw, _ := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(raw))
		last = r
	}
	require.Equal(t, http.StatusTooManyRequests, last.StatusCode)
	vreq, _ := http.NewRequest("GET", "/api/products", nil)
	ok, verrs := v.ValidateHttpResponse(vreq, last)
	require.True(t, ok, describeErrs(verrs))
	// Routes outside the limits answer still, and their documentation declares no 429.
	for _, path := range []string{"/healthz", "/readyz", "/api/openapi.json", "/api/auth/jwks.json"} {
		require.Equal(t, http.StatusOK, b.do("GET", path, nil, "Authorization", "").status, path)
		op := res.body["paths"].(map[string]any)[path].(map[string]any)["get"].(map[string]any)
		require.NotContains(t, op["responses"], "429", path)
	}
	require.NotContains(t, res.body["paths"].(map[string]any)["/hooks/payments"].(map[string]any)["post"].(map[string]any)["responses"], "429")
}

// The headers of an answer are stored under their canonical names (as Header.Set stores
// them; some are assigned directly, without Set), so Header.Get finds each one in process,
// and they carry what they did: the security headers, the rate limit, the ETag.
func TestAnswerHeadersUnderCanonicalNames(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	id := b.create("products", map[string]any{"name": "Lamp", "price": 12.5})
	h := b.app.Handler()
	for i, path := range []string{"/api/products/" + id, "/api/products?limit=5", "/api/products/missing", "/docs"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		for k := range w.Header() {
			require.Equal(t, http.CanonicalHeaderKey(k), k, "%s: header %q", path, k)
		}
		got := w.Header()
		require.Equal(t, "nosniff", got.Get("X-Content-Type-Options"), path)
		require.Len(t, got.Get("X-Request-ID"), 24, path)
		if path == "/docs" {
			require.Contains(t, got.Get("Content-Security-Policy"), "default-src 'self'")
			require.Equal(t, "DENY", got.Get("X-Frame-Options"), path)
			require.Equal(t, "no-referrer", got.Get("Referrer-Policy"), path)
			require.Equal(t, "same-origin", got.Get("Cross-Origin-Opener-Policy"), path)
			continue
		}
		require.Equal(t, "default-src 'none'; frame-ancestors 'none'", got.Get("Content-Security-Policy"), path)
		for _, doc := range []string{"X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"} {
			require.Empty(t, got.Values(doc), "%s: %s is for the HTML docs page", path, doc)
		}
		require.Equal(t, `"anonymous";q=60;w=60`, got.Get("RateLimit-Policy"), path)
		require.Equal(t, strconv.Itoa(59-i), rateLimitParam(t, got, "r"), path)
		require.NotEmpty(t, rateLimitParam(t, got, "t"), path)
		if path == "/api/products/"+id {
			require.LessOrEqual(t, len(got), 8, "%s: %v — a Go map holds 8 entries in its first group; "+
				"a ninth makes every answer allocate a table, and net/http clones it (docs/performance.md)", path, got)
		}
		if w.Code == http.StatusOK {
			require.Equal(t, "application/json", got.Get("Content-Type"), path)
			require.NotEmpty(t, got.Get("ETag"), path)
		}
	}
}

// rateLimitParam is the parameter named p (r: remaining, t: seconds to reset) of the answer's
// RateLimit field, a Structured Field item such as "anonymous";r=59;t=60.
func rateLimitParam(t *testing.T, h http.Header, p string) string {
	t.Helper()
	v := h.Values("RateLimit")
	require.Len(t, v, 1, "one RateLimit field")
	parts := strings.Split(v[0], ";")
	require.Regexp(t, `^"[a-z_]+"$`, parts[0], "the policy's name, a quoted string: %s", v[0])
	for _, kv := range parts[1:] {
		if k, val, ok := strings.Cut(kv, "="); ok && k == p {
			return val
		}
	}
	t.Fatalf("RateLimit %q has no %s", v[0], p)
	return ""
}
