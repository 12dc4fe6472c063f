package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

type testBundle struct {
	srv  *httptest.Server
	logs *bytes.Buffer
}

func setup(t *testing.T, h http.Handler) *testBundle {
	return setupWith(t, h, spec.Server{CORS: spec.CORS{Origins: []string{"https://app.example"}}, HSTSMaxAge: spec.DefaultHSTSMaxAge})
}

// setupWith serves h through the middleware chain on a listener that watches request
// framing, as Server.Serve does.
func setupWith(t *testing.T, h http.Handler, cfg spec.Server) *testBundle {
	t.Helper()
	logs := &bytes.Buffer{}
	b := setupWithLogCfg(t, h, slog.New(slog.NewJSONHandler(logs, nil)), cfg)
	b.logs = logs
	return b
}

// setupWithLog serves h through the chain with log as the server's logger.
func setupWithLog(t *testing.T, h http.Handler, log *slog.Logger) *testBundle {
	return setupWithLogCfg(t, h, log, spec.Server{HSTSMaxAge: spec.DefaultHSTSMaxAge})
}

func setupWithLogCfg(t *testing.T, h http.Handler, log *slog.Logger, cfg spec.Server) *testBundle {
	t.Helper()
	srv := httptest.NewUnstartedServer(chain(h, log, cfg))
	srv.Listener = framingListener{Listener: srv.Listener}
	srv.Config.ConnContext = connContext
	srv.Start()
	t.Cleanup(srv.Close)
	return &testBundle{srv: srv}
}

func TestPanicIsA500WithoutInternals(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret table kiln_x exploded") }))
	res, err := http.Get(b.srv.URL + "/x")
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body))
	require.Equal(t, "internal", body["error"])
	require.Equal(t, res.Header.Get("X-Request-ID"), body["request_id"])
	require.NotContains(t, string(raw), "secret")
	require.Contains(t, b.logs.String(), "secret table", "the cause goes to the log")
}

func TestRequestIDKeptWhenWellFormed(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	for id, keep := range map[string]bool{"abc-123": true, "bad id;drop": false, strings.Repeat("a", 200): false} {
		req, _ := http.NewRequest("GET", b.srv.URL, nil)
		req.Header.Set("X-Request-ID", id)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, keep, res.Header.Get("X-Request-ID") == id)
		require.NotEmpty(t, res.Header.Get("X-Request-ID"))
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	}
}

func TestGzipOnlyForLargeBodies(t *testing.T) {
	t.Parallel()
	big := strings.Repeat(`{"k":"v"},`, 500)
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/big" {
			_, _ = io.WriteString(w, big)
			return
		}
		_, _ = io.WriteString(w, "{}")
	}))
	tr := &http.Transport{DisableCompression: true}
	client := &http.Client{Transport: tr}
	for path, gz := range map[string]bool{"/big": true, "/small": false} {
		req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := client.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, gz, res.Header.Get("Content-Encoding") == "gzip", path)
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			require.NoError(t, err)
			plain, err := io.ReadAll(zr)
			require.NoError(t, err)
			require.Equal(t, big, string(plain))
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	req, _ := http.NewRequest("OPTIONS", b.srv.URL+"/api/products", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Equal(t, "https://app.example", res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Get("Access-Control-Allow-Methods"), "PATCH")

	req.Header.Set("Origin", "https://evil.example")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
}

// Every answer of a CORS-enabled API varies by Origin — to allowed origins, other origins,
// requests without one and preflights — and the headers Kiln reads and sends are allowed and
// exposed.
func TestCORSVariesEveryAnswerByOriginAndListsKilnsHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	send := func(method, origin string, headers ...string) *http.Response {
		req, _ := http.NewRequest(method, b.srv.URL+"/api/things", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	for name, res := range map[string]*http.Response{
		"Allowed":   send("GET", "https://app.example"),
		"Other":     send("GET", "https://evil.example"),
		"NoOrigin":  send("GET", ""),
		"Preflight": send("OPTIONS", "https://app.example", "Access-Control-Request-Method", "PATCH"),
	} {
		require.Contains(t, res.Header.Values("Vary"), "Origin", name)
	}
	require.Empty(t, send("GET", "https://evil.example").Header.Get("Access-Control-Allow-Origin"))
	pre := send("OPTIONS", "https://app.example", "Access-Control-Request-Method", "PATCH")
	allowed := strings.Split(pre.Header.Get("Access-Control-Allow-Headers"), ", ")
	for _, h := range []string{"Authorization", "Content-Type", "X-API-Key", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-ID", "Last-Event-ID"} {
		require.Contains(t, allowed, h)
	}
	exposed := strings.Split(send("GET", "https://app.example").Header.Get("Access-Control-Expose-Headers"), ", ")
	for _, h := range []string{"ETag", "Location", "RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-ID", "Idempotent-Replayed"} {
		require.Contains(t, exposed, h)
	}
}

// HSTS goes out when Kiln is told TLS is in front of it (or serves TLS itself), never over a
// plain connection it knows nothing about.
func TestHSTSWhenBehindTLS(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for name, tc := range map[string]struct {
		cfg  spec.Server
		want string
	}{
		"Plain":     {cfg: spec.Server{HSTSMaxAge: spec.DefaultHSTSMaxAge}, want: ""},
		"BehindTLS": {cfg: spec.Server{BehindTLS: true, HSTSMaxAge: spec.DefaultHSTSMaxAge}, want: "max-age=31536000"},
		"ShortAge":  {cfg: spec.Server{BehindTLS: true, HSTSMaxAge: time.Hour}, want: "max-age=3600"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, ok, tc.cfg)
			res, err := http.Get(b.srv.URL + "/x")
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, tc.want, res.Header.Get("Strict-Transport-Security"))
		})
	}
}

// Only the docs page and its files get the docs page's CSP: a path that merely begins with
// "docs" (an incoming webhook at /docsign, a base path /docsapi) is the API's, with
// frame-ancestors 'none', and carries no document headers.
func TestDocsHeadersOnTheDocsPathsOnly(t *testing.T) {
	t.Parallel()
	h := securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), spec.Server{})
	for path, docs := range map[string]bool{"/docs": true, "/docs/": true, "/docs/init.js": true,
		"/docsets": false, "/docsign/hook": false, "/docsapi/products": false, "/api/docs": false} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if docs {
			require.Equal(t, "DENY", w.Header().Get("X-Frame-Options"), path)
			continue
		}
		require.Equal(t, "default-src 'none'; frame-ancestors 'none'", w.Header().Get("Content-Security-Policy"), path)
		require.Empty(t, w.Header().Values("X-Frame-Options"), path)
	}
}

// A handler that panics after its answer began (a custom route that wrote its 200 and part
// of its body) is not answered again: the problem was appended to the half-written body under
// the 200 (a helper's trial). The connection is cut, the log has the cause and an access line
// saying 500. (Where gzip held the answer back, nothing of it was sent: a clean 500 follows.)
func TestPanicAfterTheAnswerBeganCutsTheConnection(t *testing.T) {
	t.Parallel()
	logs := &lockedLog{}
	b := setupWithLog(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"partial":`))
		panic("secret half way")
	}), slog.New(slog.NewJSONHandler(logs, nil)))
	req, _ := http.NewRequest("GET", b.srv.URL+"/x", nil)
	req.Header.Set("Accept-Encoding", "identity") // no gzip writer holding the answer back
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		raw, readErr := io.ReadAll(res.Body)
		res.Body.Close()
		require.Error(t, readErr, "a cut answer, not a whole one: %d %s", res.StatusCode, raw)
	}
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"status":500`) }, 5*time.Second, 10*time.Millisecond)
	require.Contains(t, logs.String(), "secret half way", "the cause goes to the log")
	require.Contains(t, logs.String(), "the connection is cut")
}

// lockedLog is a log the server writes while the test reads it.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// A 103 Early Hints answer is not the request's status: the hints reach the client, and the
// answer that follows is the one logged — with gzip or without, and a panic after the hints
// is still a 500 problem, not a cut connection.
func TestEarlyHintsAreNotTheStatus(t *testing.T) {
	t.Parallel()
	logs := &lockedLog{}
	b := setupWithLog(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		if r.URL.Path == "/panic" {
			panic("after the hints")
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(strings.Repeat("body ", 400)))
	}), slog.New(slog.NewJSONHandler(logs, nil)))
	for _, enc := range []string{"identity", "gzip"} {
		var hints []int
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { hints = append(hints, code); return nil }})
		req, _ := http.NewRequestWithContext(ctx, "GET", b.srv.URL+"/x", nil)
		req.Header.Set("Accept-Encoding", enc)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, enc)
		require.Equal(t, []int{http.StatusEarlyHints}, hints, enc)
		if enc == "identity" {
			require.Contains(t, string(raw), "body body")
		}
		req, _ = http.NewRequest("GET", b.srv.URL+"/panic", nil)
		req.Header.Set("Accept-Encoding", enc)
		res, err = http.DefaultClient.Do(req)
		require.NoError(t, err, "a panic after the hints is answered")
		raw, err = io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusInternalServerError, res.StatusCode, "%s %s", enc, raw)
	}
	require.Eventually(t, func() bool { return strings.Count(logs.String(), `"status":200`) == 2 }, 5*time.Second, 10*time.Millisecond)
	require.NotContains(t, logs.String(), `"status":103`)
}
