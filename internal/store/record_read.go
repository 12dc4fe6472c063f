package store

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
)

// Get reads one record by id, also requiring where (a row rule) when given.
func (e *Exec) Get(ctx context.Context, resource, id string, where query.Cond) (*Record, error) {
	return e.get(ctx, resource, id, where)
}

// GetForUpdate is Get that first locks the row until the transaction ends (PostgreSQL's
// SELECT … FOR NO KEY UPDATE, see forWrite; SQLite's single writer already keeps others from
// changing it), so a write based on what it read cannot find the record changed under it. The
// read is a statement of its own after the lock: under READ COMMITTED it then sees everything
// committed before — the N:M ids and the tables a where condition reads too, which a locking
// read would show as of before the wait. A row read on its own — no N:M ids, no where
// condition — is locked and read by one statement: PostgreSQL hands a locking read that waited
// the row as the other transaction committed it, and checks the liveness condition again.
func (e *Exec) GetForUpdate(ctx context.Context, resource, id string, where query.Cond) (*Record, error) {
	return e.getLocked(ctx, resource, id, where, forWrite)
}

// GetForDelete is GetForUpdate for a record about to be deleted: its lock (FOR UPDATE) also
// makes a concurrent insert of a child pointing at it wait, as the DELETE would.
func (e *Exec) GetForDelete(ctx context.Context, resource, id string, where query.Cond) (*Record, error) {
	return e.getLocked(ctx, resource, id, where, forDelete)
}

func (e *Exec) getLocked(ctx context.Context, resource, id string, where query.Cond, strength string) (*Record, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	if where == nil && len(t.links) == 0 && e.inTransaction() && e.s.dialect.name() == "postgres" {
		b := &builder{d: e.s.dialect, t: t, args: []any{id}}
		b.write(t.getSQL, strength)
		return e.first(ctx, t, b)
	}
	if err := e.lockRow(ctx, resource, id, strength); err != nil {
		return nil, err
	}
	return e.get(ctx, resource, id, where)
}

func (e *Exec) get(ctx context.Context, resource, id string, where query.Cond) (*Record, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	b := &builder{d: e.s.dialect, t: t, args: []any{id}}
	if where == nil {
		b.fixed = t.getSQL
	} else {
		b.write(t.getSQL, " AND ")
		if err := b.cond(where); err != nil {
			return nil, err
		}
	}
	if !query.HasRel(where) {
		// One row by its primary key, its N:M ids and conditions on that row alone: the
		// statement's work is bounded (quietCtx). A condition on related records may scan.
		ctx = bounded(ctx)
	}
	return e.first(ctx, t, b)
}

// ListResult is a page of records; More says another page follows.
type ListResult struct {
	Records []*Record
	More    bool
	Total   int64 // with q.Count
}

// List runs a list query: filter and keyset are pushed into SQL, one row more than the
// limit is read to know whether another page follows.
func (e *Exec) List(ctx context.Context, resource string, q query.List) (*ListResult, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	b, err := e.renderList(t, q)
	if err != nil {
		return nil, err
	}
	recs, err := e.records(ctx, t, b)
	if err != nil {
		return nil, err
	}
	res := &ListResult{Records: recs}
	if len(recs) > q.Limit {
		res.Records, res.More = recs[:q.Limit], true
	}
	if q.Count {
		if res.Total, err = e.count(ctx, t, q.Where, q.Deleted); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// renderList renders a list query's SELECT: filter and keyset in SQL, one row more than the limit.
func (e *Exec) renderList(t *table, q query.List) (*builder, error) {
	where := q.Where
	if q.After != nil {
		where = query.AndOf(where, keyset(q.Sort, q.After))
	}
	b := &builder{d: e.s.dialect, t: t, trash: q.Deleted}
	b.write("SELECT ", t.selectList, " FROM ", quote(t.name))
	if err := b.where(where); err != nil {
		return nil, err
	}
	if err := b.orderBy(q.Sort); err != nil {
		return nil, err
	}
	b.write(" LIMIT ", strconv.Itoa(q.Limit+1))
	if q.Offset > 0 {
		b.write(" OFFSET ", strconv.Itoa(q.Offset))
	}
	return b, nil
}

// Count counts the records matching where.
func (e *Exec) Count(ctx context.Context, resource string, where query.Cond) (int64, error) {
	t, err := e.table(resource)
	if err != nil {
		return 0, err
	}
	return e.count(ctx, t, where, false)
}

func (e *Exec) count(ctx context.Context, t *table, where query.Cond, trash bool) (int64, error) {
	b := &builder{d: e.s.dialect, t: t, trash: trash}
	b.write("SELECT COUNT(*) FROM ", quote(t.name))
	if err := b.where(where); err != nil {
		return 0, err
	}
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, e.s.dialect.interpret(err)
		}
	}
	return n, e.s.dialect.interpret(rows.Err())
}

// ByField reads the records whose field is one of values, at most perValue for each
// value (0: no cap), in id order. It serves expand: one query per relation per page.
func (e *Exec) ByField(ctx context.Context, resource, field string, values []string, perValue int, where query.Cond) ([]*Record, error) {
	if len(values) <= maxInValues {
		return e.byField(ctx, resource, field, values, perValue, where)
	}
	// more values than a statement takes parameters (PostgreSQL 65,535, SQLite 32,766): in
	// parts, each value in one part only (perValue counts per value), merged in id order
	var out []*Record
	for part := range slices.Chunk(values, maxInValues) {
		recs, err := e.byField(ctx, resource, field, part, perValue, where)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	slices.SortFunc(out, func(a, b *Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// maxInValues bounds the values one statement of ByField lists, leaving room under the
// dialects' parameter limits for the where condition's own.
const maxInValues = 10000

func (e *Exec) byField(ctx context.Context, resource, field string, values []string, perValue int, where query.Cond) ([]*Record, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return nil, nil
	}
	b := &builder{d: e.s.dialect, t: t}
	col, k, scale, err := b.column(field)
	if err != nil {
		return nil, err
	}
	in := make([]any, len(values))
	for i, v := range values {
		in[i] = v
	}
	filter := query.AndOf(query.In{Field: field, Values: in}, where)
	if perValue <= 0 {
		b.write("SELECT ", t.selectList, " FROM ", quote(t.name))
		if err := b.where(filter); err != nil {
			return nil, err
		}
		b.write(" ORDER BY ", quote("id"))
	} else {
		b.write("SELECT ", t.selectList, " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY ", col,
			" ORDER BY ", quote("id"), ") AS kiln_rn FROM ", quote(t.name))
		if err := b.where(filter); err != nil {
			return nil, err
		}
		// The subquery takes the table's name so selectList's correlated link subqueries resolve.
		b.write(") AS ", quote(t.name), " WHERE kiln_rn <= ", b.arg(kInt, 0, int64(perValue)), " ORDER BY ", quote("id"))
	}
	_, _ = k, scale
	return e.records(ctx, t, b)
}

// first runs b's query on t and returns its first record, or ErrNotFound.
func (e *Exec) first(ctx context.Context, t *table, b *builder) (*Record, error) {
	if q, ok := ctx.(quietCtx); ok && !e.inTransaction() {
		return e.firstBounded(q, t, b)
	}
	return firstRecord(e.records(ctx, t, b))
}

// records runs b's query on t and returns its records: outside a transaction on SQLite on the
// driver connection (recordsDirect), otherwise through database/sql.
func (e *Exec) records(ctx context.Context, t *table, b *builder) ([]*Record, error) {
	if !e.inTransaction() && e.s.batch != nil { // SQLite (batch: its writer's group commits)
		return e.recordsOn(ctx, t, b)
	}
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return nil, err
	}
	return t.scanAll(e.s.dialect, rows)
}

// firstBounded is first for a bounded read (quietCtx) outside a transaction: on SQLite on a
// connection taken with the live context, so that a wait for one ends with it, the statement
// itself not watched; on PostgreSQL on pgx's pool (firstOnPool).
func (e *Exec) firstBounded(q quietCtx, t *table, b *builder) (*Record, error) {
	on := e.firstOn
	if e.s.pool != nil {
		on = e.firstOnPool
	}
	rec, err := on(q, t, b)
	if errors.Is(err, ErrUnavailable) {
		// As query: a connection that died while idle gets one more try on another.
		rec, err = on(q, t, b)
	}
	return rec, err
}

// firstOnPool is firstOn on PostgreSQL, straight on pgx's pool under the live context (pgx
// watches it without a goroutine). Through database/sql the same read took a pooled connection,
// wrapped it (stdlib, lazyConn), turned each value into a driver.Value and back, and closed the
// wrappers again (MaxIdleConns 0: pgxpool keeps the idle connections): about a tenth of the
// server's CPU for a read by id. Outside a transaction nothing else is on the connection.
func (e *Exec) firstOnPool(q quietCtx, t *table, b *builder) (*Record, error) {
	e.s.queries.Add(1)
	if err := q.Context.Err(); err != nil {
		return nil, e.s.dialect.interpret(err) // as lazyConn: not an outage to retry
	}
	if e.s.reads != nil {
		recs, handled, release, err := e.readGrouped(q.Context, t, b)
		if handled {
			return firstRecord(recs, err)
		}
		if release != nil {
			defer release()
		}
	}
	rows, err := e.s.pool.Query(q.Context, b.text(), b.args...)
	if err != nil {
		return nil, e.s.dialect.interpret(err)
	}
	defer rows.Close()
	return firstRecord(t.scanPoolRows(e.s.dialect, rows))
}

func (e *Exec) firstOn(q quietCtx, t *table, b *builder) (*Record, error) {
	return firstRecord(e.recordsOn(q, t, b))
}

// firstRecord is the first of recs, or ErrNotFound.
func firstRecord(recs []*Record, err error) (*Record, error) {
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return recs[0], nil
}
