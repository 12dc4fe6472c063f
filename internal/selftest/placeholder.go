package selftest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
)

var (
	placeholderRe = regexp.MustCompile(`\{(random:[A-Za-z0-9_.]+|[A-Za-z0-9_.\-]+)\}`)
	envRe         = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// expander fills placeholders for one case.
type expander struct {
	ctx      context.Context
	env      Env
	role     string
	captures map[string]any // case name → decoded response body
	lookup   func(string) (string, bool)
	unique   string
}

// newUnique is ten random digits: digits fit most patterns a unique field may have.
func newUnique() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%010d", binary.BigEndian.Uint64(b[:])%1e10)
}

// expand replaces placeholders in strings anywhere inside v.
func (x *expander) expand(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return x.expandString(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			ev, err := x.expand(e)
			if err != nil {
				return nil, err
			}
			out[k] = ev
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			ev, err := x.expand(e)
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		return out, nil
	}
	return v, nil
}

func (x *expander) expandString(s string) (any, error) {
	if v, ok, err := x.wholeCapture(s); ok {
		return v, err
	}
	var firstErr error
	s = envRe.ReplaceAllStringFunc(s, func(m string) string {
		name := envRe.FindStringSubmatch(m)[1]
		v, ok := x.lookup(name)
		if !ok && firstErr == nil {
			firstErr = fmt.Errorf("environment variable %s is not set", name)
		}
		return v
	})
	out := placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
		v, err := x.value(placeholderRe.FindStringSubmatch(m)[1])
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	return out, firstErr
}

func (x *expander) value(name string) (string, error) {
	switch name {
	case "valid_token":
		return x.env.Token(x.ctx, x.role)
	case "invalid_token":
		return "invalid.token.value", nil
	case "expired_token":
		return x.env.ExpiredToken(x.ctx, x.role)
	case "api_key":
		return x.env.APIKey(x.ctx, x.role)
	case "unique":
		return x.unique, nil
	case "random_email":
		return "user-" + newUnique() + "@example.test", nil
	}
	if field, ok := strings.CutPrefix(name, "random:"); ok {
		v, err := x.env.RandomValue(x.ctx, field)
		return fmt.Sprint(v), err
	}
	caseName, path, ok := strings.Cut(name, ".response.")
	if !ok {
		return "", fmt.Errorf("unknown placeholder {%s} (valid_token, invalid_token, expired_token, api_key, unique, random_email, random:<resource>.<field>, <case>.response.<field>)", name)
	}
	body, seen := x.captures[caseName]
	if !seen {
		return "", fmt.Errorf("placeholder {%s}: no earlier case named %s", name, caseName)
	}
	v, found := lookupPath(body, path)
	if !found {
		return "", fmt.Errorf("placeholder {%s}: the response of %s has no %s", name, caseName, path)
	}
	return fmt.Sprint(v), nil
}

// wholeCapture: a value that is exactly one {case.response.path} placeholder takes the
// captured value with its JSON type (a number stays a number, so "position": "{a.response.position}"
// sends 2, not "2").
func (x *expander) wholeCapture(s string) (any, bool, error) {
	m := placeholderRe.FindStringSubmatch(s)
	if m == nil || m[0] != s {
		return nil, false, nil
	}
	if field, ok := strings.CutPrefix(m[1], "random:"); ok {
		v, err := x.env.RandomValue(x.ctx, field)
		return v, true, err
	}
	caseName, path, ok := strings.Cut(m[1], ".response.")
	if !ok {
		return nil, false, nil
	}
	body, seen := x.captures[caseName]
	if !seen {
		return nil, true, fmt.Errorf("placeholder {%s}: no earlier case named %s", m[1], caseName)
	}
	v, found := lookupPath(body, path)
	if !found {
		return nil, true, fmt.Errorf("placeholder {%s}: the response of %s has no %s", m[1], caseName, path)
	}
	if _, isText := v.(string); isText || v == nil {
		return fmt.Sprint(v), true, nil
	}
	return v, true, nil
}

// lookupPath follows a dotted path (a.b.0.c) into decoded JSON.
func lookupPath(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = t[part]; !ok {
				return nil, false
			}
		case []any:
			var i int
			if _, err := fmt.Sscanf(part, "%d", &i); err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// expected fills placeholders in what a case checks, so values like "cat-{unique}" match.
func (x *expander) expected(e Expected) (Expected, error) {
	for k, v := range e.Headers {
		ev, err := x.expandString(v)
		if err != nil {
			return e, err
		}
		e.Headers[k] = ev.(string)
	}
	rc, err := x.expand(e.ResponseContains)
	if err != nil {
		return e, err
	}
	dc, err := x.expand(e.DatabaseCheck)
	if err != nil {
		return e, err
	}
	e.ResponseContains, _ = rc.([]any)
	e.DatabaseCheck, _ = dc.([]any)
	return e, nil
}

// lookupAll follows a dotted path where a * segment stands for every element of a list
// (errors.*.field): the values found, none when the path leads nowhere.
func lookupAll(v any, path string) []any {
	head, rest, more := strings.Cut(path, ".")
	if head == "*" {
		list, _ := v.([]any)
		var out []any
		for _, e := range list {
			if more {
				out = append(out, lookupAll(e, rest)...)
			} else {
				out = append(out, e)
			}
		}
		return out
	}
	next, ok := lookupPath(v, head)
	switch {
	case !ok:
		return nil
	case !more:
		return []any{next}
	}
	return lookupAll(next, rest)
}
