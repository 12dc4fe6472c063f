// Package respcheck checks one HTTP response against the OpenAPI 3.1 document Kiln generates
// (openapi.Generate): the path and method are documented, the status is declared, the
// Content-Type is one of the response's media types, its required headers are present and
// the JSON body conforms to its schema. It is what `kiln test` runs for response_schema: true.
package respcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/jsonschema"
)

// Checker holds one document, read once; it is safe for concurrent use.
type Checker struct {
	prefix  string  // the server URL's path, stripped from request paths ("" for "/")
	routes  []route // most literal first
	schemas *jsonschema.Validator
}

// Error says how a response departs from the document, naming the operation and the
// response entry it was checked against.
type Error struct {
	Operation string   // "GET /api/products/{id} → 200 (declared as default)"
	Problems  []string // each with the JSON pointer of the value or the header's name
}

func (e *Error) Error() string { return e.Operation + ": " + strings.Join(e.Problems, "; ") }

// New reads doc, an OpenAPI 3.1 document in JSON, and checks that every schema in it uses
// only keywords the check knows: a document it cannot judge fully is refused here.
func New(doc []byte) (*Checker, error) {
	root, err := decode(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("openapi document: not a JSON object")
	}
	v, err := jsonschema.New(jsonschema.Config{}, root)
	if err != nil {
		return nil, err
	}
	c := &Checker{prefix: serverPrefix(top), schemas: v}
	paths, _ := top["paths"].(map[string]any)
	for tmpl, item := range paths {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("openapi document: path %s is not an object", tmpl)
		}
		c.routes = append(c.routes, newRoute(tmpl, m))
	}
	slices.SortFunc(c.routes, moreLiteral)
	if err := c.checkDocument(top); err != nil {
		return nil, err
	}
	return c, nil
}

// serverPrefix is the path of the first server's URL when it is a path ("/v1"); "/" is none.
func serverPrefix(top map[string]any) string {
	servers, _ := top["servers"].([]any)
	if len(servers) == 0 {
		return ""
	}
	s, _ := servers[0].(map[string]any)
	url, _ := s["url"].(string)
	if !strings.HasPrefix(url, "/") {
		return ""
	}
	return strings.TrimSuffix(url, "/")
}

// decode reads one JSON value with exact numbers; trailing data is an error.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// Check checks one response to method path (the request's URL path, without the query).
// It returns nil, an *Error, or a *jsonschema.SchemaError when the document holds a schema
// the check cannot judge.
func (c *Checker) Check(method, path string, status int, header http.Header, body []byte) error {
	opName := method + " " + path + " → " + strconv.Itoa(status)
	rest, ok := strings.CutPrefix(path, c.prefix)
	rt, found := findRoute(c.routes, rest)
	if !ok || !found {
		return &Error{Operation: opName, Problems: []string{"path is not in the document"}}
	}
	opName = method + " " + rt.template + " → " + strconv.Itoa(status)
	op, ok := rt.item[strings.ToLower(method)].(map[string]any)
	if !ok {
		return &Error{Operation: opName, Problems: []string{"method " + method + " is not documented for " + rt.template +
			" (documented: " + strings.Join(methods(rt.item), ", ") + ")"}}
	}
	resp, key, loc, err := c.response(op, status, "#/paths/"+escape(rt.template)+"/"+strings.ToLower(method))
	if err != nil {
		return err
	}
	if resp == nil {
		return &Error{Operation: opName, Problems: []string{"status " + strconv.Itoa(status) +
			" is not declared (declared: " + strings.Join(sortedKeys(op["responses"]), ", ") + ")"}}
	}
	if key != strconv.Itoa(status) {
		opName += " (declared as " + key + ")"
	}
	problems, err := c.checkResponse(resp, loc, header, body)
	if err != nil || len(problems) == 0 {
		return err
	}
	return &Error{Operation: opName, Problems: problems}
}

// methods lists the operations of a path item.
func methods(item map[string]any) []string {
	var out []string
	for _, m := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
		if _, ok := item[m]; ok {
			out = append(out, strings.ToUpper(m))
		}
	}
	return out
}

func sortedKeys(v any) []string {
	m, _ := v.(map[string]any)
	return slices.Sorted(maps.Keys(m))
}

// escape makes a name one token of a JSON pointer.
func escape(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}
