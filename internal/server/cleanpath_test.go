package server

import (
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// A path with an empty, . or .. segment is answered 404 with the API's problem, and reaches no
// handler: ServeMux redirected it (307, an HTML body, no code), and a client following the
// redirect sent its POST again to a route it had not written (a helper's trial).
func TestUncleanPathsAreNotFoundNotRedirected(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusCreated)
	})
	b := setup(t, mux)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string) (*http.Response, map[string]any) {
		res, err := client.Post(b.srv.URL+path, "application/json", nil)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		return res, body
	}
	for _, p := range []string{"/api//orders", "/api/./orders", "/api/x/../orders", "//api/orders", "/api/orders/."} {
		res, body := post(p)
		require.Equal(t, http.StatusNotFound, res.StatusCode, p)
		require.Empty(t, res.Header.Get("Location"), p)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), p)
		require.Equal(t, "not_found", body["error"], p)
		require.NotEmpty(t, res.Header.Get("X-Request-Id"), "%s: the chain around it still runs", p)
	}
	require.Zero(t, calls.Load(), "no handler ran")
	res, _ := post("/api/orders")
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.Equal(t, int64(1), calls.Load())

	for p, want := range map[string]string{"": "/", "/": "/", "/a/": "/a/", "/a//b/": "/a/b/", "a/../b": "/b", "/a/%2F/b": "/a/%2F/b"} {
		require.Equal(t, want, canonicalPath(p), p)
	}
}
