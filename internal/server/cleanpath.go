package server

import (
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/kiln-dev/kiln/internal/api/rest"
	"github.com/kiln-dev/kiln/internal/service"
)

// refuseUncleanPaths answers 404 with the API's problem for a path that is not in canonical
// form (an empty, "." or ".." segment: /api//orders, /api/./orders). net/http's ServeMux would
// answer it with a 307 redirect to the cleaned path and an HTML body: no error code, and a
// client that follows redirects sends its POST or DELETE again, to a route it did not write.
func refuseUncleanPaths(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); r.Method != http.MethodConnect && p != canonicalPath(p) {
			rest.WriteError(w, r, log, service.Errorf(service.CodeNotFound,
				"no such route: the path has an empty, . or .. segment"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalPath is p as ServeMux routes it: rooted, with no empty, "." or ".." segment, and a
// trailing slash kept.
func canonicalPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
