package kiln_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// A custom route may answer a document a browser renders (an HTML page with its own CSP, as
// any working page needs under default-src 'none'): it is never framed by another site and
// keeps the docs page's referrer and opener policies.
func TestCustomRouteHTMLIsNeverFramed(t *testing.T) {
	t.Parallel()
	x := &kiln.Extensions{}
	x.Handle("GET /portal", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		_, _ = w.Write([]byte("<!doctype html><title>portal</title><form method=post><button>Pay</button></form>"))
	})
	b := setupExt(t, "sqlite", x)
	w := httptest.NewRecorder()
	b.app.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/portal", nil))
	require.Equal(t, http.StatusOK, w.Code)
	framed := w.Header().Get("X-Frame-Options") == "DENY" || strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.True(t, framed, "an HTML page any site may frame (clickjacking): %v", w.Header())
	require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))
	require.Equal(t, "same-origin", w.Header().Get("Cross-Origin-Opener-Policy"))
}

// A custom route sees an API key's scopes through call.Principal.Allows, named as the
// resources' routes name them; an account's role is limited by the rules, not by scopes.
func TestCustomRouteSeesTheKeysScopes(t *testing.T) {
	t.Parallel()
	x := &kiln.Extensions{}
	x.Handle("GET /report", func(w http.ResponseWriter, r *http.Request, call kiln.RouteCall) {
		p := call.Principal
		kiln.WriteJSON(w, http.StatusOK, map[string]any{
			"key": p.KeyID != "", "products_view": p.Allows("products", "view"), "products_create": p.Allows("products", "create"),
			"orders_cancel": p.Allows("orders", "cancel"), "orders_list": p.Allows("orders", "list"), "orders_refund": p.Allows("orders", "refund"),
		})
	})
	b := setupExt(t, "sqlite", x)
	res := b.do("POST", "/api/auth/keys", map[string]any{"name": "reports", "role": "staff", "scopes": []string{"products:read", "orders:cancel"}})
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	got := b.do("GET", "/report", nil, bearer(res.body["key"].(string))...)
	require.Equal(t, http.StatusOK, got.status, string(got.raw))
	require.Equal(t, map[string]any{"key": true, "products_view": true, "products_create": false,
		"orders_cancel": true, "orders_list": false, "orders_refund": false}, got.body)
	got = b.do("GET", "/report", nil, bearer(b.token("staff"))...)
	require.Equal(t, map[string]any{"key": false, "products_view": true, "products_create": true,
		"orders_cancel": true, "orders_list": true, "orders_refund": true}, got.body)
}

// A custom route's body is held to server.max_body_bytes, as Kiln's own routes' are: an
// anonymous 3 MiB POST to a route reached it whole, plain or chunked (a helper's trial).
func TestCustomRouteBodyIsLimited(t *testing.T) {
	t.Parallel()
	x := &kiln.Extensions{}
	x.Handle("POST /import", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {
		raw, err := io.ReadAll(r.Body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			kiln.WriteJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"read": len(raw)})
			return
		}
		kiln.WriteJSON(w, http.StatusOK, map[string]any{"read": len(raw)})
	})
	b := setupExt(t, "sqlite", x)
	big := strings.Repeat("x", 3<<20)
	res := b.do("POST", "/import", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.status, string(res.raw))
	require.Equal(t, "payload_too_large", res.body["error"], "refused before the route ran: "+string(res.raw))
	req, err := http.NewRequest("POST", b.srv.URL+"/import", io.MultiReader(strings.NewReader(big))) // no length: chunked
	require.NoError(t, err)
	got, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	got.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, got.StatusCode, "the route's read failed past the limit")
	small := b.do("POST", "/import", "{}")
	require.Equal(t, http.StatusOK, small.status, string(small.raw))
}

// Another method to a Go route's path is 405 with Allow, as on the resources' paths — also
// for a route beside a resource's item path, which the mux tells apart only by method.
func TestCustomRouteOtherMethodIs405(t *testing.T) {
	t.Parallel()
	x := &kiln.Extensions{}
	report := func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {
		kiln.WriteJSON(w, http.StatusOK, map[string]any{"method": r.Method})
	}
	x.Handle("GET /api/reports/{day}", report)
	x.Handle("POST /api/reports/{date}", report)
	x.Handle("GET /api/products/export", report)
	x.Handle("/api/anything", report)
	b := setupExt(t, "sqlite", x)
	res := b.do("DELETE", "/api/reports/monday", nil)
	require.Equal(t, http.StatusMethodNotAllowed, res.status, string(res.raw))
	require.Equal(t, "GET, POST, HEAD", res.header.Get("Allow"))
	require.Equal(t, "method_not_allowed", res.body["error"])
	require.Equal(t, http.StatusOK, b.do("POST", "/api/reports/monday", nil).status)
	require.Equal(t, http.StatusOK, b.do("PUT", "/api/anything", nil).status, "a route without a method takes every one")
	require.Equal(t, http.StatusOK, b.do("GET", "/api/products/export", nil).status)
	require.NotEqual(t, http.StatusInternalServerError, b.do("POST", "/api/products/export", nil).status)
}

// kiln.Conflict without a code of its own answers 409 conflict, not an empty error code.
func TestConflictWithoutACode(t *testing.T) {
	t.Parallel()
	x := &kiln.Extensions{}
	x.Handle("POST /api/hold", func(w http.ResponseWriter, r *http.Request, call kiln.RouteCall) {
		call.Error(w, r, kiln.Conflict("", "the slot is taken"))
	})
	b := setupExt(t, "sqlite", x)
	res := b.do("POST", "/api/hold", nil)
	require.Equal(t, http.StatusConflict, res.status, string(res.raw))
	require.Equal(t, "conflict", res.body["error"])
	require.Equal(t, "the slot is taken", res.body["detail"])
}
