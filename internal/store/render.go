package store

import (
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
)

// builder accumulates SQL text and its arguments; every value becomes a placeholder.
type builder struct {
	d    dialect
	t    *table
	sb   strings.Builder
	args []any
	// trash reads the soft-deleted rows of a soft-delete table instead of the live ones.
	trash bool
	// fixed is the whole statement when it is a prepared text such as table.getSQL, used as
	// it is (no copy into sb's buffer on every read by id); sb stays empty then.
	fixed string
}

// text is the statement built.
func (b *builder) text() string {
	if b.sb.Len() == 0 {
		return b.fixed
	}
	return b.sb.String()
}

func (b *builder) write(s ...string) {
	for _, x := range s {
		b.sb.WriteString(x)
	}
}

func (b *builder) arg(k kind, scale int, v any) string {
	b.args = append(b.args, b.d.encode(k, scale, v))
	return b.d.placeholder(len(b.args))
}

func (b *builder) cond(c query.Cond) error {
	switch c := c.(type) {
	case query.Compare:
		return b.compare(c)
	case query.In:
		return b.in(c)
	case query.Match:
		return b.match(c)
	case query.Has:
		return b.has(c)
	case query.Rel:
		return b.rel(c)
	case query.Exists:
		return b.exists(c)
	case query.And:
		return b.join(c, " AND ", "1=1")
	case query.Or:
		return b.join(c, " OR ", "1=0")
	case query.Not:
		// Two-valued, as query.Eval decides: a comparison with NULL is false, so its negation
		// is true. Plain NOT would keep SQL's NULL and drop the row.
		b.write("NOT COALESCE((")
		if err := b.cond(c.Cond); err != nil {
			return err
		}
		b.write("), FALSE)")
		return nil
	}
	return fmt.Errorf("store: unknown condition %T", c)
}

func (b *builder) column(field string) (string, kind, int, error) {
	col, k, scale, ok := b.t.columnFor(field)
	if !ok {
		return "", 0, 0, fmt.Errorf("store: %s has no column for field %q", b.t.name, field)
	}
	return col, k, scale, nil
}

func (b *builder) compare(c query.Compare) error {
	col, k, scale, err := b.column(c.Field)
	if err != nil {
		return err
	}
	if c.Value == nil {
		if c.Op == query.Ne {
			b.write(col, " IS NOT NULL")
		} else {
			b.write(col, " IS NULL")
		}
		return nil
	}
	b.write(col, " ", string(c.Op), " ", b.arg(k, scale, c.Value))
	return nil
}

func (b *builder) in(c query.In) error {
	col, k, scale, err := b.column(c.Field)
	if err != nil {
		return err
	}
	if len(c.Values) == 0 {
		if c.Not {
			b.write("1=1")
		} else {
			b.write("1=0")
		}
		return nil
	}
	b.write(col)
	if c.Not {
		b.write(" NOT")
	}
	b.write(" IN (")
	for i, v := range c.Values {
		if i > 0 {
			b.write(", ")
		}
		b.write(b.arg(k, scale, v))
	}
	b.write(")")
	return nil
}

func (b *builder) match(c query.Match) error {
	col, k, scale, err := b.column(c.Field)
	if err != nil {
		return err
	}
	if c.Text == "" {
		b.write(col, " IS NOT NULL")
		return nil
	}
	b.write("(", b.d.match(col, c.Kind, b.arg(k, scale, c.Text)), ")")
	return nil
}

// has renders N:M membership as EXISTS on the link table, correlated by the outer table's
// name. Both lookups are served by an index the migration creates: the link table's primary
// key (source_id, target_id), and its target_id index for an inverse.
func (b *builder) has(c query.Has) error {
	f := b.t.res.Field(c.Field)
	if f == nil {
		return fmt.Errorf("store: %s has no field %q", b.t.name, c.Field)
	}
	link, self, other, ok := b.t.res.Link(f)
	if !ok {
		return fmt.Errorf("store: %s.%s is not an N:M relation", b.t.name, c.Field)
	}
	b.write("EXISTS (SELECT 1 FROM ", quote(link), " WHERE ", quote(link), ".", quote(self), " = ",
		quote(b.t.name), ".", quote("id"), " AND ", quote(link), ".", quote(other), " = ", b.arg(kUUID, 0, c.ID), b.t.live[c.Field], ")")
	return nil
}

// rel renders a condition on the record a to-one relation points at as an uncorrelated IN
// subquery on the related (live) rows, so the outer query can still use the relation's index.
func (b *builder) rel(c query.Rel) error {
	f := b.t.res.Field(c.Field)
	if f == nil || f.Relation == nil || !f.Stored() {
		return fmt.Errorf("store: %s.%s is not a to-one relation", b.t.name, c.Field)
	}
	target := b.t.tables[f.Relation.To]
	if target == nil {
		return fmt.Errorf("store: unknown resource %q", f.Relation.To)
	}
	col, _, _, err := b.column(c.Field)
	if err != nil {
		return err
	}
	inner := &builder{d: b.d, t: target, args: b.args}
	inner.write(col, " IN (SELECT ", quote(target.name), ".", quote("id"), " FROM ", quote(target.name))
	if err := inner.where(c.Cond); err != nil {
		return err
	}
	inner.write(")")
	b.sb.WriteString(inner.sb.String())
	b.args = inner.args
	return nil
}

// exists renders "another record of c.Resource ties to this one and meets c.Cond" as an
// uncorrelated IN subquery over that resource's live rows: the outer query can still use the
// field's index, and the inner one the key's.
func (b *builder) exists(c query.Exists) error {
	other := b.t.tables[c.Resource]
	if other == nil {
		return fmt.Errorf("store: unknown resource %q", c.Resource)
	}
	col, _, _, err := b.column(c.Field)
	if err != nil {
		return err
	}
	inner := &builder{d: b.d, t: other, args: b.args}
	key, _, _, err := inner.column(c.Key)
	if err != nil {
		return err
	}
	inner.write(col, " IN (SELECT ", quote(other.name), ".", key, " FROM ", quote(other.name))
	if err := inner.where(c.Cond); err != nil {
		return err
	}
	inner.write(")")
	b.sb.WriteString(inner.sb.String())
	b.args = inner.args
	return nil
}

func (b *builder) join(cs []query.Cond, sep, empty string) error {
	if len(cs) == 0 {
		b.write(empty)
		return nil
	}
	b.write("(")
	for i, c := range cs {
		if i > 0 {
			b.write(sep)
		}
		if err := b.cond(c); err != nil {
			return err
		}
	}
	b.write(")")
	return nil
}

// orderBy renders the sort with id as the final tiebreaker; NULLs sort as the smallest
// value in both dialects so keyset conditions agree with the order. A column that cannot
// hold NULL gets no NULLS clause: PostgreSQL's indexes (ASC NULLS LAST) serve a plain ASC
// or DESC, and NULLS FIRST would make it read and sort every matching row.
func (b *builder) orderBy(sorts []query.Sort) error {
	b.write(" ORDER BY ")
	for _, s := range sorts {
		col, _, _, err := b.column(s.Field)
		if err != nil {
			return err
		}
		nulls := !b.t.notNull(s.Field)
		switch {
		case s.Desc && nulls:
			b.write(col, " DESC NULLS LAST, ")
		case s.Desc:
			b.write(col, " DESC, ")
		case nulls:
			b.write(col, " ASC NULLS FIRST, ")
		default:
			b.write(col, " ASC, ")
		}
	}
	b.write(quote("id"), " ASC")
	return nil
}

// keyset builds the condition "after the row with these sort values and id".
func keyset(sorts []query.Sort, after []any) query.Cond {
	keys := append(append([]query.Sort{}, sorts...), query.Sort{Field: "id"})
	var or query.Or
	for i := range keys {
		var and query.And
		for j := 0; j < i; j++ {
			and = append(and, query.Compare{Field: keys[j].Field, Op: query.Eq, Value: after[j]})
		}
		and = append(and, afterKey(keys[i], after[i]))
		or = append(or, and)
	}
	return or
}

func afterKey(s query.Sort, v any) query.Cond {
	switch {
	case !s.Desc && v == nil:
		return query.Compare{Field: s.Field, Op: query.Ne, Value: nil}
	case !s.Desc:
		return query.Compare{Field: s.Field, Op: query.Gt, Value: v}
	case v == nil:
		return query.Or{}
	}
	return query.Or{query.Compare{Field: s.Field, Op: query.Lt, Value: v}, query.Compare{Field: s.Field, Op: query.Eq, Value: nil}}
}
