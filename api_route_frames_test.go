package kiln_test

import (
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
