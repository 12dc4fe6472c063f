package rest

import (
	"net/http"
	"slices"
)

// routeMux is the ServeMux Register fills. It keeps the pattern of every route that answers
// requests, apart from the 405 and 404 answers around them, so that the OpenAPI document can
// be held to the routes really served (Served): a route added here and not documented, as the
// auth, admin and file routes once were, fails a test instead of being missed by clients.
type routeMux struct {
	*http.ServeMux
	served []string
}

// HandleFunc registers a route that answers requests.
func (m *routeMux) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	m.ServeMux.HandleFunc(pattern, fn)
	m.served = append(m.served, pattern)
}

// refuse registers a pattern that only refuses: a 405 with Allow, or the API's 404.
func (m *routeMux) refuse(pattern string, fn http.HandlerFunc) {
	m.ServeMux.HandleFunc(pattern, fn)
}

// Served lists the ServeMux patterns of the routes Register added, the Go program's own
// included, in the order they were added; nil before Register.
func (h *Handler) Served() []string { return slices.Clone(h.served) }
