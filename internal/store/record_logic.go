package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/query"
)

// LockRow locks one record until the transaction ends, so writes that check an invariant
// hanging on it run one after the other: PostgreSQL SELECT … FOR NO KEY UPDATE (see
// forWrite); SQLite's single writer connection already serializes write transactions, so
// there it does nothing. A missing record is no error (the check that reads it reports it).
func (e *Exec) LockRow(ctx context.Context, resource, id string) error {
	return e.lockRow(ctx, resource, id, forWrite)
}

// LocksRows reports whether LockRow and GetForUpdate lock anything: false on SQLite, whose
// single writer runs write transactions one at a time.
func (e *Exec) LocksRows() bool { return e.inTransaction() && e.s.dialect.name() == "postgres" }

// forWrite is the row lock of a write that keeps the record's id: PostgreSQL's FOR NO KEY
// UPDATE, the lock its UPDATE takes. It does not wait for (nor make wait) the FOR KEY SHARE
// lock that inserting a child pointing at the row takes for its foreign key: with FOR UPDATE,
// concurrent creates of one parent's children each held that share lock and then waited for
// the others' to lock the parent for its rollups — a deadlock for every pair (15 of 16 such
// creates answered 503). forDelete is the lock of a delete, which does conflict with it.
const (
	forWrite  = " FOR NO KEY UPDATE"
	forDelete = " FOR UPDATE"
)

func (e *Exec) lockRow(ctx context.Context, resource, id, strength string) error {
	return e.lockRows(ctx, resource, strength, func(b *builder) error {
		b.write(" WHERE ", quote("id"), " = ", b.arg(kUUID, 0, id))
		return nil
	})
}

// LockByField locks the records whose field is value until the transaction ends, in id order
// (PostgreSQL's FOR NO KEY UPDATE, as LockRow; nothing on SQLite).
func (e *Exec) LockByField(ctx context.Context, resource, field, value string) error {
	return e.lockRows(ctx, resource, forWrite, func(b *builder) error {
		if err := b.where(query.Compare{Field: field, Op: query.Eq, Value: value}); err != nil {
			return err
		}
		b.write(" ORDER BY ", quote("id"))
		return nil
	})
}

// lockRows locks the rows of resource that where (writing the statement's WHERE and ORDER BY)
// selects, with strength; on PostgreSQL only, in a transaction.
func (e *Exec) lockRows(ctx context.Context, resource, strength string, where func(b *builder) error) error {
	if !e.inTransaction() {
		return fmt.Errorf("store: a row lock outside a transaction")
	}
	if e.s.dialect.name() == "sqlite" {
		return nil
	}
	t, err := e.table(resource)
	if err != nil {
		return err
	}
	b := &builder{d: e.s.dialect, t: t}
	b.write("SELECT 1 FROM ", quote(t.name))
	if err := where(b); err != nil {
		return err
	}
	b.write(strength)
	return e.drain(ctx, b)
}

// drain runs b's query and reads its rows to the end.
func (e *Exec) drain(ctx context.Context, b *builder) error {
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	err = rows.Err()
	rows.Close()
	return e.s.dialect.interpret(err)
}

// Aggregate computes fn (sum, min or max) of field over the records matching where, as the
// field's value; nil when no record matches.
func (e *Exec) Aggregate(ctx context.Context, resource, fn, field string, where query.Cond) (any, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	sqlFn := map[string]string{"sum": "SUM", "min": "MIN", "max": "MAX"}[fn]
	if sqlFn == "" {
		return nil, fmt.Errorf("store: unknown aggregate %q", fn)
	}
	b := &builder{d: e.s.dialect, t: t}
	col, k, scale, err := b.column(field)
	if err != nil {
		return nil, err
	}
	b.write("SELECT ", sqlFn, "(", col, ") FROM ", quote(t.name))
	if err := b.where(where); err != nil {
		return nil, err
	}
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	target := e.s.dialect.scanTarget(k)
	if rows.Next() {
		if err := rows.Scan(target); err != nil {
			return nil, e.s.dialect.interpret(fmt.Errorf("scan %s(%s): %w", fn, field, err))
		}
	}
	if err := e.s.dialect.interpret(rows.Err()); err != nil {
		return nil, err
	}
	return e.s.dialect.decode(k, scale, target)
}

// RollupAgg is one field of a parent kept equal to an aggregate of its children: Func (sum,
// count, min, max) of the children's ChildField. Its value is stored as the aggregate's own
// SQL value, so the field and ChildField must share a type (and a scale).
type RollupAgg struct {
	Field, Func, ChildField string
	// Empty is the value over no children: the field's default when it has one (typed as a
	// record's values are), else nil — 0 for a sum or a count, NULL for a min or a max.
	Empty any
	// Max, when not nil, is the largest magnitude the field holds (typed as Empty): the
	// statement writes nothing when an aggregate is beyond it, as when nothing changed, so
	// the caller tells the two apart (PostgreSQL would fail on it, SQLite store it).
	Max any
}

// RefreshRollups sets the parent's aggs to their aggregates over the live children of child
// whose field back is id, and bumps its version and updated_at, in one statement that writes
// only when a value changed (changed reports it). On PostgreSQL lock the parent row first
// (LockRow): the statement then reads every child committed before it. aggs must be the same
// for every call with the same parent, child and back (they come from the spec).
func (e *Exec) RefreshRollups(ctx context.Context, parent, id, child, back string, aggs []RollupAgg, at time.Time) (bool, error) {
	pt, err := e.table(parent)
	if err != nil {
		return false, err
	}
	ct, err := e.table(child)
	if err != nil {
		return false, err
	}
	_, k, scale, ok := ct.columnFor(back)
	if !ok {
		return false, fmt.Errorf("store: %s has no column for field %q", ct.name, back)
	}
	key := parent + "\x00" + child + "\x00" + back
	cachedR, cached := e.s.rollupSQL.Load(key)
	if !cached {
		if cachedR, err = renderRefresh(e.s.dialect, pt, ct, back, aggs); err != nil {
			return false, err
		}
		e.s.rollupSQL.Store(key, cachedR)
	}
	r := cachedR.(refresh)
	d := e.s.dialect
	args := append(append([]any{d.encode(kTime, 0, at)}, r.empties...), d.encode(k, scale, id), d.encode(kUUID, 0, id))
	args = append(args, r.bounds...)
	res, err := e.exec(ctx, r.text, args)
	if err != nil {
		return false, e.tagTable(err, pt.name)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// refresh is RefreshRollups' statement for one parent, child and relation, and the encoded
// Empty values of its aggregates, its arguments after updated_at, and their Max values, its
// last arguments.
type refresh struct {
	text            string
	empties, bounds []any
}

// renderRefresh renders RefreshRollups' statement; arguments: updated_at, the aggregates'
// Empty values, the children's back value, the parent's id, the aggregates' Max values.
func renderRefresh(d dialect, pt, ct *table, back string, aggs []RollupAgg) (refresh, error) {
	b := &builder{d: d, t: pt}
	sets, diffs := make([]string, len(aggs)), make([]string, len(aggs))
	for i, a := range aggs {
		col, _, _, err := b.column(a.Field)
		if err != nil {
			return refresh{}, err
		}
		v := "a.v" + strconv.Itoa(i)
		sets[i] = col + " = " + v
		diffs[i] = d.distinct(quote(pt.name)+"."+col, v)
	}
	b.write("UPDATE ", quote(pt.name), " SET ", strings.Join(sets, ", "), ", ", quote("updated_at"), " = ", b.arg(kTime, 0, nil),
		", ", quote(VersionColumn), " = ", quote(VersionColumn), " + 1 FROM (")
	b.t = ct
	if err := b.aggregates(aggs); err != nil {
		return refresh{}, err
	}
	if err := b.where(query.Compare{Field: back, Op: query.Eq, Value: ""}); err != nil {
		return refresh{}, err
	}
	b.t = pt
	b.write(") AS a WHERE ", quote(pt.name), ".", quote("id"), " = ", b.arg(kUUID, 0, nil), pt.andLive(),
		" AND (", strings.Join(diffs, " OR "), ")")
	n := len(b.args)
	b.t = ct
	if err := b.bounds(aggs); err != nil {
		return refresh{}, err
	}
	return refresh{text: b.text(), empties: b.args[1 : n-2], bounds: b.args[n:]}, nil
}

// bounds writes, for each agg with a Max, that its aggregate (v0, v1, …) is within it; b's
// table is the children's, whose column type and scale the aggregate has.
func (b *builder) bounds(aggs []RollupAgg) error {
	for i, a := range aggs {
		if a.Max == nil {
			continue
		}
		_, k, scale, err := b.column(a.ChildField)
		if err != nil {
			return err
		}
		b.write(" AND COALESCE(ABS(a.v", strconv.Itoa(i), "), 0) <= ", b.arg(k, scale, a.Max))
	}
	return nil
}

// aggregates writes SELECT with one aggregate per agg (v0, v1, …) over b's table; over no
// rows each is its Empty value (a parameter), else a sum is 0 and a min or max NULL.
func (b *builder) aggregates(aggs []RollupAgg) error {
	b.write("SELECT ")
	for i, a := range aggs {
		if i > 0 {
			b.write(", ")
		}
		expr := "COUNT(*)"
		if a.Func == "count" && a.Empty != nil {
			expr = "COALESCE(NULLIF(COUNT(*), 0), " + b.arg(kInt, 0, a.Empty) + ")"
		}
		if a.Func != "count" {
			fn := map[string]string{"sum": "SUM", "min": "MIN", "max": "MAX"}[a.Func]
			col, k, scale, err := b.column(a.ChildField)
			if err != nil || fn == "" {
				return fmt.Errorf("store: bad rollup %s(%s): %v", a.Func, a.ChildField, err)
			}
			switch expr = fn + "(" + col + ")"; {
			case a.Empty != nil:
				expr = "COALESCE(" + expr + ", " + b.arg(k, scale, a.Empty) + ")"
			case fn == "SUM":
				expr = "COALESCE(" + expr + ", 0)"
			}
		}
		b.write(expr, " AS v", strconv.Itoa(i))
	}
	b.write(" FROM ", quote(b.t.name))
	return nil
}
