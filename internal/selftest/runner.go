package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is the outcome of one case.
type Result struct {
	File     string        `json:"file"`
	Case     string        `json:"case"`
	Endpoint string        `json:"endpoint"`
	Request  string        `json:"request"` // what was sent, placeholders filled, for failure reports
	Passed   bool          `json:"passed"`
	Status   int           `json:"status"`
	Duration time.Duration `json:"duration_ns"`
	Failures []string      `json:"failures,omitempty"`
}

// Runner runs test files against an Env.
type Runner struct {
	Env    Env
	Client *http.Client
	Lookup func(string) (string, bool) // ${ENV}; os.LookupEnv when nil
	// Now reads the clock that times responses; time.Now when nil.
	Now func() time.Time
}

// RunFile runs every case of f in order.
func (r *Runner) RunFile(ctx context.Context, f *File) []Result {
	if r.Lookup == nil {
		r.Lookup = os.LookupEnv
	}
	if r.Client == nil {
		r.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	captures := map[string]any{}
	unique := newUnique()
	out := make([]Result, 0, len(f.Cases))
	for i, c := range f.Cases {
		role := firstOf(c.As, r.Env.DefaultRole())
		x := &expander{ctx: ctx, env: r.Env, role: role, captures: captures, lookup: r.Lookup, unique: unique}
		res := r.runCase(ctx, f, c, x)
		if base := baseCase(f, i); base != nil && res.Status == 400 && len(res.Failures) == 0 {
			show := func(v any) any {
				if ev, err := x.expand(v); err == nil {
					return ev
				}
				return v
			}
			res.Failures = impliedFieldChecks(base, c, captures[c.Name], show)
			res.Passed = len(res.Failures) == 0
		}
		out = append(out, res)
	}
	return out
}

func (r *Runner) runCase(ctx context.Context, f *File, c *Case, x *expander) Result {
	res := Result{File: f.Path, Case: c.Name, Endpoint: c.Request.Method + " " + c.Request.Path}
	fail := func(format string, args ...any) { res.Failures = append(res.Failures, fmt.Sprintf(format, args...)) }
	req, sent, err := r.buildRequest(ctx, c, x)
	if err != nil {
		fail("%v", err)
		return res
	}
	res.Request = req.Method + " " + req.URL.RequestURI() + " " + sent
	start := r.Now()
	resp, err := r.Client.Do(req)
	if err != nil {
		fail("request failed: %v", err)
		return res
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	res.Duration, res.Status = r.Now().Sub(start), resp.StatusCode
	var body any
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&body)
	}
	x.captures[c.Name] = body
	e, err := x.expected(c.Expected)
	if err != nil {
		// An expectation that reads this response (its id) cannot be built from an error
		// answer: the status says why.
		if c.Expected.Status != 0 && resp.StatusCode != c.Expected.Status {
			fail("status: expected %d, got %d%s", c.Expected.Status, resp.StatusCode, hint(body))
		}
		fail("%v", err)
		return res
	}
	res.Failures = append(res.Failures, r.checkResponse(e, req, resp, raw, body, res.Duration)...)
	if len(res.Failures) == 0 && e.Pages != nil {
		res.Failures = append(res.Failures, r.checkPages(ctx, req, body, e.Pages, x.principal(c))...)
	}
	if len(res.Failures) == 0 {
		for _, chk := range e.DatabaseCheck {
			if msg := r.databaseCheck(ctx, c, body, chk); msg != "" {
				fail("database_check: %s", msg)
			}
		}
	}
	res.Passed = len(res.Failures) == 0
	return res
}

// checkResponse checks status, headers, schema, contents and time; it returns the failures.
func (r *Runner) checkResponse(e Expected, req *http.Request, resp *http.Response, raw []byte, body any, took time.Duration) []string {
	var out []string
	fail := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if e.Status != 0 && resp.StatusCode != e.Status {
		fail("status: expected %d, got %d%s", e.Status, resp.StatusCode, hint(body))
	}
	for k, want := range e.Headers {
		if got := resp.Header.Get(k); got != want {
			fail("header %s: expected %q, got %q", k, want, got)
		}
	}
	if e.ResponseSchema {
		if err := r.Env.CheckSchema(req, resp.StatusCode, resp.Header, raw); err != nil {
			fail("response_schema: %v", err)
		}
	}
	for _, item := range e.ResponseContains {
		if msg := contains(body, item); msg != "" {
			fail("response_contains: %s", msg)
		}
	}
	if e.MaxResponseTime != "" {
		if limit, err := time.ParseDuration(e.MaxResponseTime); err != nil {
			fail("max_response_time %q is not a duration such as 200ms", e.MaxResponseTime)
		} else if took > limit {
			fail("response time: expected at most %s, took %s", limit, took.Round(time.Millisecond))
		}
	}
	return out
}

func (r *Runner) buildRequest(ctx context.Context, c *Case, x *expander) (*http.Request, string, error) {
	path, err := x.expandString(c.Request.Path)
	if err != nil {
		return nil, "", err
	}
	target, err := encodeQuery(path.(string))
	if err != nil {
		return nil, "", err
	}
	raw, err := requestBody(c.Request, x)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, c.Request.Method, strings.TrimSuffix(r.Env.URL(), "/")+target, bytes.NewReader(raw))
	if err != nil {
		return nil, "", err
	}
	for k, v := range c.Request.Headers {
		ev, err := x.expandString(v)
		if err != nil {
			return nil, "", err
		}
		if ev != "" { // an empty value removes an inherited header
			req.Header.Set(k, ev.(string))
		}
	}
	if c.Request.BodySize > 0 {
		return req, fmt.Sprintf("(a JSON body of %d bytes)", len(raw)), nil
	}
	return req, string(raw), nil
}

// encodeQuery lets files write query strings readably (filter=price >= 10 && active): the
// query is read as written and sent percent-encoded. An & starts a new parameter only when a
// name and = follow it, so && inside a filter stays; %XX escapes are decoded first.
func encodeQuery(path string) (string, error) {
	p, q, ok := strings.Cut(path, "?")
	if !ok {
		return path, nil
	}
	var params []string
	for _, seg := range strings.Split(q, "&") {
		if n := len(params); n > 0 && (!paramStart.MatchString(seg) || strings.HasSuffix(params[n-1], "&")) {
			params[len(params)-1] += "&" + seg
			continue
		}
		params = append(params, seg)
	}
	for i, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			return "", fmt.Errorf("query parameter %s of %s: %w", k, path, err)
		}
		params[i] = url.QueryEscape(dk) + "=" + url.QueryEscape(dv)
	}
	return p + "?" + strings.Join(params, "&"), nil
}

// paramStart: name=value with a name free of spaces, quotes and operators (not ==), or a bare name.
var paramStart = regexp.MustCompile(`^([^\s"'()=<>!&]*=([^=]|$)|[A-Za-z_][A-Za-z0-9_]*$)`)

// requestBody is the JSON body, the raw body, or a padded object of BodySize bytes.
func requestBody(r Request, x *expander) ([]byte, error) {
	switch {
	case r.BodySize > 0:
		const frame = len(`{"padding":""}`)
		return []byte(`{"padding":"` + strings.Repeat("x", max(r.BodySize-frame, 0)) + `"}`), nil
	case r.HasRawBody:
		s, err := x.expandString(r.RawBody)
		if err != nil {
			return nil, err
		}
		return []byte(s.(string)), nil
	case r.HasBody:
		b, err := x.expand(r.Body)
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		return raw, nil
	}
	return nil, nil
}

// baseCase is the case a validation failure is compared with: of the earlier cases to the
// same method and path that expect success, the one whose body the failing case's differs from
// in the fewest fields (the first of those tied). A file may create a record at the endpoint
// before the body its cases vary — a derived create file makes a project without its main task
// for a task to require, then varies a body with the main task — and a field the case sends
// as that body had it is no change.
func baseCase(f *File, i int) *Case {
	c := f.Cases[i]
	var base *Case
	least := 0
	for _, b := range f.Cases[:i] {
		ok := b.Expected.Status >= 200 && b.Expected.Status <= 299
		if !ok || b.Request.Method != c.Request.Method || b.Request.Path != c.Request.Path {
			continue
		}
		if n := differingFields(b.Request.Body, c.Request.Body); base == nil || n < least {
			base, least = b, n
		}
	}
	return base
}

// differingFields counts the fields of two JSON object bodies whose values differ, a field
// one of them leaves out included (compared as impliedFieldChecks compares them); 0 when
// either body is no object.
func differingFields(a, b any) int {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return 0
	}
	n := 0
	for k, v := range bm {
		if fmt.Sprint(am[k]) != fmt.Sprint(v) {
			n++
		}
	}
	for k, v := range am {
		if _, ok := bm[k]; !ok && fmt.Sprint(v) != fmt.Sprint(nil) {
			n++
		}
	}
	return n
}

// hint summarizes a problem body so a status failure says which rule or constraint fired.
func hint(body any) string {
	m, ok := body.(map[string]any)
	if !ok {
		return ""
	}
	s := ""
	if code, ok := m["error"].(string); ok {
		s = " (" + code
		if d, ok := m["detail"].(string); ok {
			s += ": " + d
		}
		if errs, ok := m["errors"].([]any); ok {
			for _, e := range errs {
				if fe, ok := e.(map[string]any); ok {
					s += fmt.Sprintf("; %v %v [%v]", fe["field"], fe["message"], fe["code"])
				}
			}
		}
		s += ")"
	}
	return s
}

// contains checks one response_contains item: a key (dotted path) or {key: value} pairs.
func contains(body any, item any) string {
	switch t := item.(type) {
	case string:
		if len(lookupAll(body, t)) == 0 {
			return fmt.Sprintf("expected key %q, the response has none", t)
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			want, got := t[k], lookupAll(body, k)
			if len(got) == 0 {
				return fmt.Sprintf("expected %s: %v, the response has no %s", k, want, k)
			}
			if !slices.ContainsFunc(got, func(g any) bool { return sameValue(g, want) }) {
				return fmt.Sprintf("expected %s: %v, got %v", k, want, oneOrAll(got))
			}
		}
	default:
		return fmt.Sprintf("items are keys or key: value pairs, not %v", item)
	}
	return ""
}

// sameInstant reports whether both texts are RFC 3339 date-times of the same instant
// (2026-01-02T12:00:00Z and 2026-01-02T12:00:00.000000Z are).
func sameInstant(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

func oneOrAll(vals []any) any {
	if len(vals) == 1 {
		return vals[0]
	}
	return vals
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameValue compares a decoded response value with a YAML value: numbers by value,
// date-times by instant.
func sameValue(got, want any) bool {
	gs, ws := fmt.Sprint(got), fmt.Sprint(want)
	if gs == ws || sameInstant(gs, ws) {
		return true
	}
	gf, err1 := strconv.ParseFloat(gs, 64)
	wf, err2 := strconv.ParseFloat(ws, 64)
	return err1 == nil && err2 == nil && gf == wf
}

// impliedFieldChecks: when an earlier case to the same endpoint succeeds and a later one changes some of its body
// fields and gets validation_failed, each changed field must be among the reported errors —
// so every bad value is shown to be caught by its own constraint, not hidden behind another.
// A field the case uses to identify the record is exempt (see identifying).
// show renders a changed value as sent (placeholders filled).
func impliedFieldChecks(first, c *Case, body any, show func(any) any) []string {
	if c.Expected.StrictFields == "off" {
		return nil
	}
	base, ok1 := first.Request.Body.(map[string]any)
	changed, ok2 := c.Request.Body.(map[string]any)
	m, ok3 := body.(map[string]any)
	if !ok1 || !ok2 || !ok3 || m["error"] != "validation_failed" {
		return nil
	}
	reported := map[string]bool{}
	errs, _ := m["errors"].([]any)
	for _, e := range errs {
		if fe, ok := e.(map[string]any); ok {
			reported[fmt.Sprint(fe["field"])] = true
		}
	}
	ids := identifying(c, show)
	var out []string
	for k, v := range changed {
		if fmt.Sprint(base[k]) != fmt.Sprint(v) && !reported[k] && !ids(k, v) {
			out = append(out, fmt.Sprintf("%s was changed to %v and should fail validation, but no constraint on %s rejected it (errors named: %s)",
				k, show(v), k, names(reported)))
		}
	}
	return out
}

// identifying returns whether the case uses field k, with the value v it sent, to identify
// the record: a database_check with k v (`Product with name "Bad Widget" does not exist`, or
// where: {name: Bad Widget}) or a response_contains pair k: v. Such a value was changed so
// that the case can find the record, not to be refused.
func identifying(c *Case, show func(any) any) func(k string, v any) bool {
	var pairs []map[string]any
	for _, item := range c.Expected.DatabaseCheck {
		if chk, err := toCheck(item); err == nil && chk.Where != nil {
			pairs = append(pairs, chk.Where)
		}
	}
	for _, item := range c.Expected.ResponseContains {
		if m, ok := item.(map[string]any); ok {
			pairs = append(pairs, m)
		}
	}
	return func(k string, v any) bool {
		sent := show(v)
		for _, m := range pairs {
			if want, ok := m[k]; ok && sameValue(sent, show(want)) {
				return true
			}
		}
		return false
	}
}

func names(set map[string]bool) string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	if len(out) == 0 {
		return "none"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
