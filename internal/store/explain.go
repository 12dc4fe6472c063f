package store

import (
	"context"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
)

// ExplainList returns the database's plan for a list query, one line per plan row, exactly
// as List would run it: SQLite's EXPLAIN QUERY PLAN details or PostgreSQL's EXPLAIN text.
// Tests use it to prove which indexes serve a filter.
func (e *Exec) ExplainList(ctx context.Context, resource string, q query.List) ([]string, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	b, err := e.renderList(t, q)
	if err != nil {
		return nil, err
	}
	prefix, col := "EXPLAIN ", 0
	if e.s.dialect.name() == "sqlite" {
		prefix, col = "EXPLAIN QUERY PLAN ", 3 // id, parent, notused, detail
	}
	rows, err := e.query(ctx, prefix+b.text(), b.args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, e.s.dialect.interpret(err)
		}
		out = append(out, strings.TrimSpace(toText(vals[col])))
	}
	return out, e.s.dialect.interpret(rows.Err())
}

func toText(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	s, _ := v.(string)
	return s
}
