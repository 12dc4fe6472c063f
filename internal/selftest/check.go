package selftest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// databaseCheck runs one database_check item: a sentence or {resource, where, count, exists}.
func (r *Runner) databaseCheck(ctx context.Context, c *Case, body any, item any) string {
	chk, err := toCheck(item)
	if err != nil {
		return err.Error()
	}
	if chk.Field != "" {
		return r.checkStored(ctx, c, body, chk)
	}
	res, ok := r.Env.Resource(chk.Resource)
	if !ok {
		return fmt.Sprintf("%s: no resource named %s", chk.Text, chk.Resource)
	}
	n, err := r.Env.Count(ctx, res, chk.Where)
	if err != nil {
		return fmt.Sprintf("%s: %v", chk.Text, err)
	}
	switch {
	case chk.Count != nil && n != int64(*chk.Count):
		return fmt.Sprintf("%s: expected %d %s with %s, found %d", chk.Text, *chk.Count, res, show(chk.Where), n)
	case chk.Exists != nil && *chk.Exists && n == 0:
		return fmt.Sprintf("%s: no %s record has %s", chk.Text, res, show(chk.Where))
	case chk.Exists != nil && !*chk.Exists && n > 0:
		return fmt.Sprintf("%s: %d %s record(s) have %s", chk.Text, n, res, show(chk.Where))
	}
	return ""
}

// checkStored compares a field of the record the case wrote (its response id) with a value.
func (r *Runner) checkStored(ctx context.Context, c *Case, body any, chk *Check) string {
	res, ok := r.Env.ResourceOfPath(c.Request.Path)
	if !ok {
		return fmt.Sprintf("%s: the request path names no resource", chk.Text)
	}
	id, ok := lookupPath(body, "id")
	if !ok {
		return fmt.Sprintf("%s: the response has no id to look up", chk.Text)
	}
	got, err := r.Env.Stored(ctx, res, fmt.Sprint(id), chk.Field)
	if err != nil {
		return fmt.Sprintf("%s: %v", chk.Text, err)
	}
	if !sameStored(got, chk.Value) {
		return fmt.Sprintf("%s: %s.%s is stored as %s", chk.Text, res, chk.Field, got)
	}
	return ""
}

// sameStored compares exactly: decimal text by digits (29.9 equals 29.90), date-times by
// instant, others as text.
func sameStored(got string, want any) bool {
	ws := fmt.Sprint(want)
	if want == nil {
		ws = "null"
	}
	if got == ws || sameInstant(got, ws) {
		return true
	}
	return normalizeNumber(got) != "" && normalizeNumber(got) == normalizeNumber(ws)
}

// normalizeNumber writes a plain decimal without superfluous zeros, or "" for non-numbers.
func normalizeNumber(s string) string {
	if _, err := strconv.ParseFloat(s, 64); err != nil || strings.ContainsAny(s, "eE") {
		return ""
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "" || strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	if neg && s != "0" {
		s = "-" + s
	}
	return s
}

func toCheck(item any) (*Check, error) {
	switch t := item.(type) {
	case string:
		return ParseSentence(t)
	case map[string]any:
		return structuredCheck(t)
	}
	return nil, fmt.Errorf("a check is a sentence or a mapping with resource, where, count or exists")
}

func structuredCheck(m map[string]any) (*Check, error) {
	c := &Check{Text: show(m)}
	for k, v := range m {
		switch k {
		case "resource":
			c.Resource = fmt.Sprint(v)
		case "where":
			w, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("check %s: where must map fields to values", show(m))
			}
			c.Where = w
		case "count":
			n, err := strconv.Atoi(fmt.Sprint(v))
			if err != nil {
				return nil, fmt.Errorf("check %s: count must be a number", show(m))
			}
			c.Count = &n
		case "exists":
			b := fmt.Sprint(v) == "true"
			c.Exists = &b
		default:
			return nil, fmt.Errorf("check %s: unknown key %q (resource, where, count, exists)", show(m), k)
		}
	}
	if c.Resource == "" {
		return nil, fmt.Errorf("check %s: needs resource", show(m))
	}
	if c.Count == nil && c.Exists == nil {
		c.Exists = ptr(true)
	}
	return c, nil
}

// show renders a structured check or its where as JSON (keys sorted), as a reader would write it.
func show(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "A & <B>" as written, not \u0026
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
