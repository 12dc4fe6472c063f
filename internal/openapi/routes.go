package openapi

import (
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Route is a custom route (a Go program's kiln.Extensions.Handle) as the document shows it:
// its net/http pattern, and what the program said of it. Request and Response are JSON
// Schemas (SchemaOf) or nil; Status is the answer's success status (0: 200).
type Route struct {
	Pattern              string
	Summary, Description string
	Request, Response    map[string]any
	Status               int
}

var anyMethods = []string{"get", "post", "put", "patch", "delete"}

// routePaths adds the custom routes to paths: each under its method (a pattern without one
// answers every method: listed under each), its path's wildcards as path parameters.
func routePaths(s *spec.Spec, routes []Route, paths obj) {
	ids := operationIDs(paths)
	for _, rt := range routes {
		method, path, ok := splitPattern(rt.Pattern)
		if !ok {
			continue
		}
		item, _ := paths[path].(obj)
		if item == nil {
			item = obj{}
			paths[path] = item
		}
		methods := anyMethods
		if method != "" {
			methods = []string{strings.ToLower(method)}
		}
		for _, m := range methods {
			if _, taken := item[m]; !taken {
				op := routeOp(s, rt, path, m)
				words := path
				if rest, under := strings.CutPrefix(path, s.Server.BasePath+"/"); under {
					words = rest
				}
				op["operationId"] = routeID(ids, m, words)
				item[m] = op
			}
		}
	}
}

// splitPattern reads "GET /api/x/{id}" (an optional method, an optional host, the path) as the
// method and the OpenAPI path: {rest...} becomes {rest}, a trailing {$} goes.
func splitPattern(pattern string) (method, path string, ok bool) {
	pattern = strings.TrimSpace(pattern)
	if m, rest, found := strings.Cut(pattern, " "); found {
		method, pattern = strings.ToUpper(m), strings.TrimSpace(rest)
	}
	if i := strings.Index(pattern, "/"); i > 0 { // a host before the path
		pattern = pattern[i:]
	}
	if !strings.HasPrefix(pattern, "/") {
		return "", "", false
	}
	pattern = strings.TrimSuffix(pattern, "{$}")
	return method, strings.ReplaceAll(pattern, "...}", "}"), true
}

// wildcards are the names of path's {name} segments.
func wildcards(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok && strings.HasSuffix(name, "}") {
			out = append(out, strings.TrimSuffix(name, "}"))
		}
	}
	return out
}

func routeOp(s *spec.Spec, rt Route, path, method string) obj {
	status := rt.Status
	if status == 0 {
		status = 200
	}
	ok := obj{"description": "The route's answer"}
	if rt.Response != nil {
		ok = jsonResponse("The route's answer", rt.Response)
	}
	desc := rt.Description
	if desc == "" {
		desc = "A custom route of the Go program serving this API."
	}
	op := obj{"tags": []string{"custom"}, "summary": rt.Summary, "description": desc,
		"responses": obj{strconv.Itoa(status): ok, "default": problemRef("Error")}}
	if rt.Summary == "" {
		op["summary"] = strings.ToUpper(method) + " " + path
	}
	if rt.Request != nil && !slices.Contains([]string{"get", "delete"}, method) {
		op["requestBody"] = jsonBody(rt.Request)
	}
	var params []obj
	for _, name := range wildcards(path) {
		params = append(params, obj{"name": name, "in": "path", "required": true, "schema": obj{"type": "string"}})
	}
	if params != nil {
		op["parameters"] = params
	}
	if s.Auth != nil { // signed in or not: the route decides (call.Principal)
		op["security"] = append([]obj{{}}, tokenOrKey()...)
		op["responses"].(obj)["401"] = problemRef("Unauthorized")
	}
	return op
}

// operationIDs are the operationIds paths hold.
func operationIDs(paths obj) map[string]bool {
	ids := map[string]bool{}
	for _, item := range paths {
		for _, op := range item.(obj) {
			if o, ok := op.(obj); ok {
				if id, ok := o["operationId"].(string); ok {
					ids[id] = true
				}
			}
		}
	}
	return ids
}

// routeID is a custom route's operationId, stable as long as its method and path are: the
// method and the path's words, a wildcard as By<Name> (GET /api/reports/{shop}/daily is
// getReportsByShopDaily). One another operation has gets a number.
func routeID(ids map[string]bool, method, path string) string {
	id := method
	for _, word := range strings.FieldsFunc(path, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '{')
	}) {
		if name, ok := strings.CutPrefix(word, "{"); ok {
			word = "By" + typeName(name)
		}
		id += typeName(word)
	}
	out := id
	for n := 2; ids[out]; n++ {
		out = id + strconv.Itoa(n)
	}
	ids[out] = true
	return out
}
