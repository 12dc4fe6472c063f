package derive

import (
	"fmt"

	"github.com/goccy/go-yaml"
)

// expect is a case's expected block.
type expect struct {
	status   int
	schema   bool
	contains []any
	db       []any
	pages    yaml.MapSlice
	loose    bool // strict_fields: off (the runner's implied check does not apply)
}

func want(status int) *expect { return &expect{status: status} }

// code expects the problem's error code.
func (e *expect) code(c string) *expect {
	e.contains = append(e.contains, yaml.MapSlice{{Key: "error", Value: c}})
	return e
}

// field expects an entry of errors naming the field, with the code when it is not "".
func (e *expect) field(name, code string) *expect {
	e.contains = append(e.contains, yaml.MapSlice{{Key: "errors.*.field", Value: name}})
	if code != "" {
		e.contains = append(e.contains, yaml.MapSlice{{Key: "errors.*.code", Value: code}})
	}
	return e
}

func (e *expect) has(key string, value any) *expect {
	e.contains = append(e.contains, yaml.MapSlice{{Key: key, Value: value}})
	return e
}

func (e *expect) key(k string) *expect {
	e.contains = append(e.contains, k)
	return e
}

func (e *expect) withSchema() *expect {
	e.schema = true
	return e
}

// count checks through the store that exactly n records of res have field = value.
func (e *expect) count(res, field string, value any, n int) *expect {
	if field == "" {
		return e
	}
	e.db = append(e.db, yaml.MapSlice{{Key: "resource", Value: res},
		{Key: "where", Value: yaml.MapSlice{{Key: field, Value: value}}}, {Key: "count", Value: n}})
	return e
}

// countWhere checks through the store that exactly n records of res match every pair of where.
func (e *expect) countWhere(res string, where yaml.MapSlice, n int) *expect {
	e.db = append(e.db, yaml.MapSlice{{Key: "resource", Value: res}, {Key: "where", Value: where}, {Key: "count", Value: n}})
	return e
}

func (e *expect) sentence(format string, args ...any) *expect {
	e.db = append(e.db, fmt.Sprintf(format, args...))
	return e
}

// walk follows every page; inMemory also compares the order with the in-memory evaluation.
func (e *expect) walk(inMemory bool) *expect {
	e.pages = yaml.MapSlice{{Key: "each_row_once", Value: true}}
	if inMemory {
		e.pages = append(e.pages, yaml.MapItem{Key: "match_in_memory", Value: true})
	}
	return e
}

func (e *expect) yaml() yaml.MapSlice {
	out := yaml.MapSlice{{Key: "status", Value: e.status}}
	if e.schema {
		out = append(out, yaml.MapItem{Key: "response_schema", Value: true})
	}
	if len(e.contains) > 0 {
		out = append(out, yaml.MapItem{Key: "response_contains", Value: e.contains})
	}
	if len(e.pages) > 0 {
		out = append(out, yaml.MapItem{Key: "pages", Value: e.pages})
	}
	if len(e.db) > 0 {
		out = append(out, yaml.MapItem{Key: "database_check", Value: e.db})
	}
	if e.loose {
		out = append(out, yaml.MapItem{Key: "strict_fields", Value: "off"})
	}
	return out
}
