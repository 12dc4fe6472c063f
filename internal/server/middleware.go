package server

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/api/rest"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// chain wraps h: request id → access log → recovery → framing check → security headers →
// CORS → gzip → a path not in canonical form refused (cleanpath.go).
func chain(h http.Handler, log *slog.Logger, srv spec.Server) http.Handler {
	h = refuseUncleanPaths(h, log)
	h = gzipLarge(h)
	h = corsHandler(h, srv.CORS)
	h = securityHeaders(h, srv)
	h = refuseAmbiguousFraming(h, log)
	h = recovery(h, log)
	h = accessLog(h, log)
	return requestID(h)
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !requestIDRe.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header()["X-Request-Id"] = []string{id} // as Header.Set stores it, without rewriting the key
		next.ServeHTTP(w, r.WithContext(rest.WithRequestID(r.Context(), id)))
	})
}

// recovery answers a panic with a 500 problem that says nothing of it (the log does). A
// handler that panicked after its answer began (a custom route that wrote its status) cannot
// be answered again: the problem was appended to the half-written body under its 200. Such a
// panic is logged and the connection cut (http.ErrAbortHandler: net/http sends nothing more),
// and the access line says 500.
func recovery(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil || p == http.ErrAbortHandler {
				if p != nil {
					panic(p)
				}
				return
			}
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				log.LogAttrs(r.Context(), slog.LevelError, "request failed after its answer began; the connection is cut",
					slog.String("request_id", rest.RequestID(r.Context())), slog.String("error", fmt.Sprintf("panic: %v", p)))
				sw.status = http.StatusInternalServerError
				panic(http.ErrAbortHandler)
			}
			rest.WriteError(w, r, log, &service.Error{Code: service.CodeInternal, Message: "internal error",
				Cause: fmt.Errorf("panic: %v", p)})
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries; HSTS when Kiln serves TLS itself,
// sits behind a TLS-terminating proxy (server.behind_tls), or the request came over TLS.
// X-Frame-Options, Referrer-Policy and Cross-Origin-Opener-Policy go on the HTML docs page,
// the one document a browser renders: on a JSON answer the CSP's frame-ancestors 'none'
// supersedes X-Frame-Options (CSP Level 2: browsers ignore X-Frame-Options when it is
// present), and a referrer or opener policy governs what a rendered document loads or opens,
// which JSON does not. Every answer keeps nosniff and the CSP. The
// values are built once and stored under their canonical keys, as Header.Set would store them:
// a value slice is never changed in place (Set replaces it, Add appends to a copy of a full
// slice), so every answer can share them.
func securityHeaders(next http.Handler, srv spec.Server) http.Handler {
	hsts := []string{"max-age=" + strconv.FormatInt(int64(srv.HSTSMaxAge.Seconds()), 10)}
	alwaysHSTS := srv.TLS.Enabled() || srv.BehindTLS
	var (
		nosniff = []string{"nosniff"}
		docsCSP = []string{"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"}
		apiCSP  = []string{"default-src 'none'; frame-ancestors 'none'"}
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if (alwaysHSTS || r.TLS != nil) && srv.HSTSMaxAge > 0 {
			h["Strict-Transport-Security"] = hsts
		}
		h["X-Content-Type-Options"] = nosniff
		if p := r.URL.Path; p == "/docs" || strings.HasPrefix(p, "/docs/") { // not /docsets: the API's
			h["Content-Security-Policy"] = docsCSP
			rest.SetDocumentHeaders(h)
		} else {
			h["Content-Security-Policy"] = apiCSP
		}
		next.ServeHTTP(w, r)
	})
}

// corsRequestHeaders are the request headers Kiln reads, allowed cross-origin by default.
var corsRequestHeaders = []string{"Authorization", "Content-Type", "X-API-Key", "If-Match", "If-None-Match",
	"Idempotency-Key", "X-Request-ID", "Last-Event-ID"}

// corsExposedHeaders are the response headers Kiln sends that scripts may read.
const corsExposedHeaders = "ETag, Location, RateLimit, RateLimit-Policy, Retry-After, X-Request-ID, Idempotent-Replayed"

// corsHandler answers CORS. Every answer of a CORS-enabled API varies by Origin — also those
// to other origins and to requests without one — so no cache serves one origin's answer to
// another.
func corsHandler(next http.Handler, c spec.CORS) http.Handler {
	if len(c.Origins) == 0 {
		return next
	}
	methods := strings.Join(orDefault(c.Methods, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}), ", ")
	headers := strings.Join(orDefault(c.Headers, corsRequestHeaders), ", ")
	maxAge := strconv.Itoa(max(c.MaxAge, 600))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" || !originAllowed(c.Origins, origin) {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		if c.Credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", headers)
			h.Set("Access-Control-Max-Age", maxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func originAllowed(allowed []string, origin string) bool {
	for _, a := range allowed {
		if a == "*" || a == origin {
			return true
		}
	}
	return false
}

func orDefault(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

// gzipMin is the body size from which responses are compressed, in bytes.
const gzipMin = 1024

// gzipWriter buffers the first gzipMin bytes to decide whether compression pays.
type gzipWriter struct {
	http.ResponseWriter
	status int
	buf    []byte
	gz     *gzip.Writer
	plain  bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if informational(code) {
		g.ResponseWriter.WriteHeader(code) // sent at once: the answer itself follows
		return
	}
	g.status = code
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	switch {
	case g.gz != nil:
		return g.gz.Write(b)
	case g.plain:
		return g.ResponseWriter.Write(b)
	}
	g.buf = append(g.buf, b...)
	if len(g.buf) >= gzipMin {
		g.start(true)
	}
	return len(b), nil
}

func (g *gzipWriter) start(compress bool) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if compress && g.Header().Get("Content-Encoding") == "" {
		g.Header().Set("Content-Encoding", "gzip")
		g.Header().Del("Content-Length")
		g.Header().Add("Vary", "Accept-Encoding")
		g.ResponseWriter.WriteHeader(g.status)
		g.gz = gzip.NewWriter(g.ResponseWriter)
		_, _ = g.gz.Write(g.buf)
	} else {
		g.plain = true
		g.ResponseWriter.WriteHeader(g.status)
		_, _ = g.ResponseWriter.Write(g.buf)
	}
	g.buf = nil
}

// Flush sends what was written so far: a response that flushes is a stream (Server-Sent
// Events), so an undecided one goes out uncompressed.
func (g *gzipWriter) Flush() {
	switch {
	case g.gz != nil:
		_ = g.gz.Flush()
	case !g.plain:
		g.start(false)
	}
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func (g *gzipWriter) finish() {
	switch {
	case g.gz != nil:
		_ = g.gz.Close()
	case !g.plain:
		g.start(false)
	}
}

func gzipLarge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		g := &gzipWriter{ResponseWriter: w}
		next.ServeHTTP(g, r)
		g.finish() // not deferred: after a panic, recovery writes the problem response instead

	})
}
