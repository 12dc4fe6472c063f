// Package selftest runs Kiln's YAML API test files — requests, expected status, headers and
// body, database checks, response times — against a running backend, and reports the results
// as text, JUnit XML and JSON.
package selftest

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// File is one test file: cases against one endpoint.
type File struct {
	Path     string
	Endpoint string // "METHOD /path"
	As       string // role of {valid_token}, for every case unless a case says otherwise
	// Defaults, when given, is what cases inherit instead of the first case's request.
	Defaults *Case
	Cases    []*Case
}

// Case is one named test case.
type Case struct {
	Name     string
	As       string
	Request  Request
	Expected Expected
}

// Request is what a case sends; empty parts are inherited from the file's first case.
type Request struct {
	Method  string
	Path    string
	Headers map[string]string
	Body    any
	HasBody bool
	// RawBody is sent as it is (placeholders filled): for malformed JSON.
	RawBody    string
	HasRawBody bool
	// BodySize sends a JSON object of exactly this many bytes: for size limits.
	BodySize int
}

// PageCheck follows next_cursor from the first page to the last and checks the rows seen.
type PageCheck struct {
	// EachRowOnce: every row the query selects appears exactly once (compared with the store).
	EachRowOnce bool
	// MatchInMemory: the rows and their order equal the access rule, filter and sort
	// evaluated in memory over every stored record.
	MatchInMemory bool
}

// Expected is what a case checks.
type Expected struct {
	Status           int
	Headers          map[string]string
	ResponseContains []any
	MaxResponseTime  string
	DatabaseCheck    []any
	// StrictFields "off" turns off the implied check that each changed field is reported.
	StrictFields string
	// ResponseSchema validates the body against the OpenAPI document.
	ResponseSchema bool
	// Pages walks a list's pages; nil for other requests.
	Pages *PageCheck
}

// LoadFile reads and checks one test file; unknown keys are errors.
func LoadFile(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return ParseFile(path, raw)
}

// ParseFile reads a test file's text; path names it in errors and reports.
func ParseFile(path string, raw []byte) (*File, error) {
	var doc yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(raw, &doc, yaml.UseOrderedMap()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &File{Path: path}
	for _, item := range doc {
		switch key := fmt.Sprint(item.Key); key {
		case "endpoint":
			f.Endpoint = fmt.Sprint(item.Value)
		case "as":
			f.As = fmt.Sprint(item.Value)
		case "defaults":
			d, err := parseDefaults(item.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			f.Defaults = d
		case "test_cases":
			cases, ok := item.Value.(yaml.MapSlice)
			if !ok {
				return nil, fmt.Errorf("%s: test_cases must be a mapping of named cases", path)
			}
			for _, c := range cases {
				tc, err := parseCase(fmt.Sprint(c.Key), c.Value)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				f.Cases = append(f.Cases, tc)
			}
		default:
			return nil, fmt.Errorf("%s: unknown key %q (endpoint, as, defaults, test_cases)", path, key)
		}
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no test_cases", path)
	}
	return f, f.inherit()
}

func parseCase(name string, v any) (*Case, error) {
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return nil, fmt.Errorf("case %s must be a mapping", name)
	}
	c := &Case{Name: name}
	for _, item := range m {
		var err error
		switch key := fmt.Sprint(item.Key); key {
		case "request":
			err = parseRequest(&c.Request, item.Value)
		case "expected":
			err = parseExpected(&c.Expected, item.Value)
		case "as":
			c.As = fmt.Sprint(item.Value)
		default:
			err = fmt.Errorf("unknown key %q (request, expected, as)", key)
		}
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", name, err)
		}
	}
	return c, nil
}

// parseDefaults reads the file-level defaults: a request and a role, no expectations.
func parseDefaults(v any) (*Case, error) {
	d, err := parseCase("defaults", v)
	if err != nil {
		return nil, err
	}
	if d.Expected.Status != 0 || d.Expected.Pages != nil || len(d.Expected.ResponseContains) > 0 {
		return nil, fmt.Errorf("defaults: only request and as are inherited, not expected")
	}
	return d, nil
}

func parseRequest(r *Request, v any) error {
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return fmt.Errorf("request must be a mapping")
	}
	for _, item := range m {
		switch key := fmt.Sprint(item.Key); key {
		case "method":
			r.Method = strings.ToUpper(fmt.Sprint(item.Value))
		case "path":
			r.Path = fmt.Sprint(item.Value)
		case "headers":
			r.Headers = map[string]string{}
			hs, _ := item.Value.(yaml.MapSlice)
			for _, h := range hs {
				r.Headers[fmt.Sprint(h.Key)] = fmt.Sprint(h.Value)
			}
		case "body":
			r.Body, r.HasBody = plain(item.Value), true
		case "raw_body":
			r.RawBody, r.HasRawBody = fmt.Sprint(item.Value), true
		case "body_size":
			n, err := strconv.Atoi(fmt.Sprint(item.Value))
			if err != nil || n < 2 {
				return fmt.Errorf("request.body_size must be a number of bytes (2 or more)")
			}
			r.BodySize = n
		default:
			return fmt.Errorf("unknown request key %q (method, path, headers, body, raw_body, body_size)", key)
		}
	}
	return nil
}

func parseExpected(e *Expected, v any) error {
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return fmt.Errorf("expected must be a mapping")
	}
	for _, item := range m {
		switch key := fmt.Sprint(item.Key); key {
		case "status":
			n, ok := item.Value.(uint64)
			if !ok || n < 100 || n > 599 {
				if i, isInt := item.Value.(int64); isInt && i >= 100 && i <= 599 {
					n, ok = uint64(i), true
				}
			}
			if !ok {
				return fmt.Errorf("expected.status must be an HTTP status")
			}
			e.Status = int(n)
		case "headers":
			e.Headers = map[string]string{}
			hs, _ := item.Value.(yaml.MapSlice)
			for _, h := range hs {
				e.Headers[fmt.Sprint(h.Key)] = fmt.Sprint(h.Value)
			}
		case "response_contains":
			list, _ := plain(item.Value).([]any)
			e.ResponseContains = list
		case "max_response_time":
			e.MaxResponseTime = fmt.Sprint(item.Value)
		case "database_check":
			list, _ := plain(item.Value).([]any)
			e.DatabaseCheck = list
		case "strict_fields":
			e.StrictFields = fmt.Sprint(item.Value)
		case "response_schema":
			e.ResponseSchema = fmt.Sprint(item.Value) == "true"
		case "pages":
			pc, err := parsePages(item.Value)
			if err != nil {
				return err
			}
			e.Pages = pc
		default:
			return fmt.Errorf("unknown expected key %q (status, headers, response_contains, max_response_time, database_check, strict_fields, response_schema, pages)", key)
		}
	}
	return nil
}

func parsePages(v any) (*PageCheck, error) {
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return nil, fmt.Errorf("expected.pages must be a mapping (each_row_once, match_in_memory)")
	}
	pc := &PageCheck{}
	for _, item := range m {
		on := fmt.Sprint(item.Value) == "true"
		switch key := fmt.Sprint(item.Key); key {
		case "each_row_once":
			pc.EachRowOnce = on
		case "match_in_memory":
			pc.MatchInMemory = on
		default:
			return nil, fmt.Errorf("unknown expected.pages key %q (each_row_once, match_in_memory)", key)
		}
	}
	return pc, nil
}

// plain turns ordered YAML maps into plain maps (for bodies and checks).
func plain(v any) any {
	switch x := v.(type) {
	case yaml.MapSlice:
		m := make(map[string]any, len(x))
		for _, item := range x {
			m[fmt.Sprint(item.Key)] = plain(item.Value)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// inherit gives every case the first case's request (or the defaults: block's) where it says
// nothing: method and path from endpoint:, headers merged key by key, the body replaced only
// when a case has one.
func (f *File) inherit() error {
	method, path, _ := strings.Cut(strings.TrimSpace(f.Endpoint), " ")
	first, role := f.Cases[0].Request, f.As
	if f.Defaults != nil {
		first, role = f.Defaults.Request, firstOf(f.Defaults.As, f.As)
	}
	for _, c := range f.Cases {
		r := &c.Request
		r.Method = firstOf(r.Method, first.Method, strings.ToUpper(method))
		r.Path = firstOf(r.Path, first.Path, strings.TrimSpace(path))
		merged := map[string]string{}
		for k, v := range first.Headers {
			merged[k] = v
		}
		for k, v := range r.Headers {
			merged[k] = v
		}
		r.Headers = merged
		if !r.HasBody && !r.HasRawBody && r.BodySize == 0 {
			r.Body, r.HasBody = first.Body, first.HasBody
			r.RawBody, r.HasRawBody, r.BodySize = first.RawBody, first.HasRawBody, first.BodySize
		}
		if r.Method == "" || r.Path == "" {
			return fmt.Errorf("%s: case %s has no method and path (set endpoint: METHOD /path)", f.Path, c.Name)
		}
		c.As = firstOf(c.As, role)
	}
	return nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
