package rest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
)

// registerRoutes adds the Go routes (Extensions.Handle). A path whose routes all name their
// method answers another method 405 with Allow, as the resources' paths do; without this the
// API's catch-all answered a POST to a GET-only route 404 "no such resource or route".
func (h *Handler) registerRoutes(mux *routeMux) {
	allowed := map[string][]string{} // a path (its wildcards unnamed) → the methods its routes name
	var paths []string
	first := map[string]string{} // … → the path as first written
	for _, rt := range h.routes {
		mux.HandleFunc(rt.Pattern, documentHeaders(h.authenticate(h.limitBody(rt.Handler))))
		method, path := splitPattern(rt.Pattern)
		key := unnamed(path)
		if _, seen := allowed[key]; !seen {
			paths, first[key] = append(paths, key), path
		}
		allowed[key] = append(allowed[key], method)
	}
	for _, key := range paths {
		methods := allowed[key]
		if slices.Contains(methods, "") {
			continue // a route takes every method there
		}
		if slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) {
			methods = append(methods, http.MethodHead)
		}
		tryHandle(mux.ServeMux, first[key], h.methodNotAllowed(strings.Join(methods, ", ")))
	}
}

// tryHandle registers a pattern unless ServeMux refuses it as clashing with one registered
// before, which it does by panicking (leaving the mux as it was): a route "GET
// /api/products/export" beside the resource's "GET /api/products/{id}" may have a 405 for its
// other methods only where the mux can tell the two apart; elsewhere those reach the resource.
func tryHandle(mux *http.ServeMux, pattern string, fn http.HandlerFunc) {
	defer func() { _ = recover() }()
	mux.HandleFunc(pattern, fn)
}

// splitPattern splits a ServeMux pattern into its method ("" for none) and the rest.
func splitPattern(p string) (method, path string) {
	if m, rest, ok := strings.Cut(p, " "); ok && !strings.Contains(m, "/") {
		return m, strings.TrimLeft(rest, " \t")
	}
	return "", p
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// unnamed is a path with its wildcards' names left out: /a/{x} and /a/{y} are one path to
// ServeMux, which refuses to register both.
func unnamed(path string) string {
	return wildcard.ReplaceAllStringFunc(path, func(w string) string {
		if strings.HasSuffix(w, "...}") {
			return "{...}"
		}
		if w == "{$}" {
			return w
		}
		return "{}"
	})
}

// limitBody holds a Go route's request body to server.max_body_bytes, as Kiln's own
// decoders hold theirs: one announced larger (Content-Length) is 413 before the route runs,
// and a chunked one that grows past it fails the route's read (*http.MaxBytesError). A route
// read bodies of any size.
func (h *Handler) limitBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > h.maxBody {
			WriteError(w, r, h.log, service.Errorf(service.CodePayloadTooLarge, "the body is larger than %d bytes", h.maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		next(w, r)
	}
}

// documentHeaders gives a custom route's answers the headers the middleware keeps for the
// HTML docs page: a Go route may answer a page, with its own Content-Security-Policy in
// place of the API's (and so without its frame-ancestors 'none'), and must not be framed by
// another site. The route may still set its own.
func documentHeaders(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		SetDocumentHeaders(w.Header())
		next(w, r)
	}
}

// SetDocumentHeaders sets the headers only a document a browser renders needs (the docs page,
// a custom route's page): X-Frame-Options, Referrer-Policy and Cross-Origin-Opener-Policy.
func SetDocumentHeaders(hd http.Header) {
	hd["X-Frame-Options"] = frameDeny
	hd["Referrer-Policy"] = noReferrer
	hd["Cross-Origin-Opener-Policy"] = sameOriginOnly
}
