package store

import (
	"context"
	"errors"
	"slices"
)

// A write that breaks a unique index fails on the first index the database checks, and
// SQLite and PostgreSQL check a table's indexes in different orders (SQLite the newest
// first, PostgreSQL the oldest), so a record that clashes with two would name a different
// field on each. So a clash of a record's write keeps the record (clashRow), and once its
// transaction is over InTx asks which of the table's unique indexes the record clashes with
// among committed rows (explainClash): those name the clash, in the spec's order, on every
// dialect. When none does — the clash is with a row written earlier in the same
// transaction — or the lookup fails, the database's report stands.

// clashRow is the record whose write broke a unique index.
type clashRow struct {
	t      *table
	id     string
	values []any
	update bool // the row exists (an update, a restore): it is no clash with itself
}

// uniqueIndexes are t's unique indexes as the spec states them, in its order: each unique
// field, in field order, then the declared unique indexes (one over the same columns once).
func (t *table) uniqueIndexes() [][]column {
	var out [][]column
	add := func(cols []column) {
		if !slices.ContainsFunc(out, func(o []column) bool { return sameColumns(o, cols) }) {
			out = append(out, cols)
		}
	}
	for _, c := range t.cols {
		if c.field.Unique {
			add([]column{c})
		}
	}
	for _, ix := range t.res.Indexes {
		if cols, ok := t.indexColumns(ix.Fields); ok && ix.Unique {
			add(cols)
		}
	}
	return out
}

// indexColumns are the columns of the fields; false when one is not a stored field.
func (t *table) indexColumns(fields []string) ([]column, bool) {
	cols := make([]column, 0, len(fields))
	for _, name := range fields {
		i, ok := t.byField[name]
		if !ok {
			return nil, false
		}
		cols = append(cols, t.cols[i])
	}
	return cols, true
}

func sameColumns(a, b []column) bool {
	return slices.EqualFunc(a, b, func(x, y column) bool { return x.name == y.name })
}

// tagRow is tagTable for the write of rec to t: a unique clash keeps the record.
func (e *Exec) tagRow(err error, t *table, rec *Record, update bool) error {
	var ce *ConstraintError
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Table == "" {
		ce.Table = t.name
	}
	if ce.Kind == ConstraintUnique && ce.Table == t.name && ce.row == nil {
		ce.row = &clashRow{t: t, id: rec.ID, values: slices.Clone(rec.Values), update: update}
	}
	return err
}

// explainClash names in a unique ConstraintError of a record's write the columns of every
// unique index the record clashes with among committed rows, in the spec's order. It runs
// once the transaction is over (its connection given back, PostgreSQL's aborted
// transaction rolled back).
func (s *Store) explainClash(ctx context.Context, err error) error {
	var ce *ConstraintError
	if err == nil || !errors.As(err, &ce) || ce.row == nil || ctx.Err() != nil {
		return err
	}
	row := ce.row
	ce.row = nil
	if cols, lerr := s.clashing(ctx, row); lerr == nil && len(cols) > 0 {
		ce.Columns = cols
	}
	return err
}

// clashing is the columns of the unique indexes row clashes with among committed rows.
func (s *Store) clashing(ctx context.Context, row *clashRow) ([]string, error) {
	b, asked := clashQuery(s.dialect, row)
	if len(asked) == 0 {
		return nil, nil
	}
	found := make([]bool, len(asked))
	dest := make([]any, len(asked))
	for i := range found {
		dest[i] = &found[i]
	}
	s.queries.Add(1)
	if err := s.reader.QueryRowContext(ctx, b.text(), b.args...).Scan(dest...); err != nil {
		return nil, s.dialect.interpret(err)
	}
	var cols []string
	for i, ix := range asked {
		for _, c := range ix {
			if found[i] && !slices.Contains(cols, c.name) {
				cols = append(cols, c.name)
			}
		}
	}
	return cols, nil
}

// clashQuery is one statement that answers, per unique index asked (the primary key first,
// for a new row), whether a committed row other than row itself holds row's values: a live
// one (deleted records keep no entry in a unique index of their table, the primary key
// aside). An index over a NULL is not asked: a NULL clashes with nothing.
func clashQuery(d dialect, row *clashRow) (*builder, [][]column) {
	t := row.t
	b := &builder{d: d, t: t}
	var asked [][]column
	sep := "SELECT "
	exists := func(ix []column) {
		b.write(sep, "EXISTS (SELECT 1 FROM ", quote(t.name), " WHERE ")
		sep = ", "
		asked = append(asked, ix)
	}
	if !row.update {
		exists([]column{{name: "id", kind: kUUID}})
		b.write(quote("id"), " = ", b.arg(kUUID, 0, row.id), ")")
	}
	for _, ix := range t.uniqueIndexes() {
		if slices.ContainsFunc(ix, func(c column) bool { return row.values[c.idx] == nil }) {
			continue
		}
		exists(ix)
		for i, c := range ix {
			if i > 0 {
				b.write(" AND ")
			}
			b.write(quote(c.name), " = ", b.arg(c.kind, c.scale, row.values[c.idx]))
		}
		if t.soft {
			b.write(" AND ", t.liveCol(), " IS NULL")
		}
		if row.update {
			b.write(" AND ", quote("id"), " <> ", b.arg(kUUID, 0, row.id))
		}
		b.write(")")
	}
	return b, asked
}
