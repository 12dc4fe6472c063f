package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

func (e *Exec) table(resource string) (*table, error) {
	t := e.s.tables[resource]
	if t == nil {
		return nil, fmt.Errorf("store: unknown resource %q", resource)
	}
	return t, nil
}

// Insert writes a new record (its stored fields; to-many links go through SetLinks).
func (e *Exec) Insert(ctx context.Context, resource string, rec *Record) error {
	t, err := e.table(resource)
	if err != nil {
		return err
	}
	_, err = e.exec(ctx, t.insertSQL, e.insertArgs(t, rec, 0))
	return e.tagRow(err, t, rec, false)
}

// insertArgs are rec's values for t's insert statement, with room for extra more.
func (e *Exec) insertArgs(t *table, rec *Record, extra int) []any {
	d := e.s.dialect
	args := make([]any, 0, 4+len(t.cols)+extra)
	args = append(args, rec.ID, d.encode(kTime, 0, rec.CreatedAt), d.encode(kTime, 0, rec.UpdatedAt), rec.Version)
	for _, c := range t.cols {
		args = append(args, d.encode(c.kind, c.scale, rec.Values[c.idx]))
	}
	return args
}

// CanInsertScanning reports whether InsertScanning is available: on PostgreSQL, whose
// statements can write in a WITH clause.
func (e *Exec) CanInsertScanning() bool { return e.s.dialect.name() == "postgres" }

// InsertScanning is Insert and a second statement in one round trip (PostgreSQL only): f.Then
// runs on the record's insert as the WITH clause kiln_row (one row of one column) and must read
// from kiln_row, so the record is written before its row is made; that one row is scanned into
// f.Dest. A failing insert fails the whole statement, with the error Insert would give. With
// f.Guard the insert is made only where the guard holds (ErrUnwritten otherwise); with f.Last
// a statement that is the transaction's first runs and commits by itself (alone.go).
func (e *Exec) InsertScanning(ctx context.Context, resource string, rec *Record, f Fold) error {
	t, err := e.foldTable(resource)
	if err != nil {
		return err
	}
	args := e.insertArgs(t, rec, len(f.GuardArgs)+len(f.Args))
	write := t.insertSQL
	if f.Guard != "" {
		write = t.insertSelect + " WHERE " + rebindDollarFrom(f.Guard, len(args)+1)
		args = append(args, f.GuardArgs...)
	}
	return e.tagRow(e.runFold(ctx, t, write, args, f, f.Guard != ""), t, rec, false)
}

// UpdateScanning is UpdateFrom (rec's changes from old, the record as read) and a second
// statement in one round trip, as InsertScanning: made only where the stored record is still
// old — its version, and what changes without one: its to-one relations (a deleted target's
// ON DELETE SET NULL) and its to-many links — and f.Guard holds; ErrUnwritten otherwise
// (nothing was written). It bumps rec's version.
func (e *Exec) UpdateScanning(ctx context.Context, resource string, rec, old *Record, f Fold) error {
	t, err := e.foldTable(resource)
	if err != nil {
		return err
	}
	write, args := t.updateFrom(e.s.dialect, rec, old, old.Version)
	write, args = t.unchangedSince(e.s.dialect, write, args, old)
	if f.Guard != "" {
		write += " AND " + rebindDollarFrom(f.Guard, len(args)+1)
		args = append(args, f.GuardArgs...)
	}
	if err := e.runFold(ctx, t, write, args, f, true); err != nil {
		return e.tagRow(err, t, rec, true)
	}
	rec.Version = old.Version + 1
	return nil
}

// unchangedSince adds to an update's WHERE (write, its arguments args) that old's to-one
// relations and to-many links are still stored as read.
func (t *table) unchangedSince(d dialect, write string, args []any, old *Record) (string, []any) {
	var b strings.Builder
	b.WriteString(write)
	for _, c := range t.cols {
		if c.field.Type == spec.TypeRelation {
			args = append(args, d.encode(c.kind, c.scale, old.Values[c.idx]))
			b.WriteString(" AND " + quote(c.name) + " IS NOT DISTINCT FROM " + d.placeholder(len(args)))
		}
	}
	for i, c := range t.links {
		var ids any
		if list, _ := old.Values[c.idx].([]string); len(list) > 0 {
			ids = strings.Join(list, ",")
		}
		args = append(args, ids)
		b.WriteString(" AND " + t.linkSQL[i] + " IS NOT DISTINCT FROM " + d.placeholder(len(args)))
	}
	return b.String(), args
}

func (e *Exec) foldTable(resource string) (*table, error) {
	if !e.CanInsertScanning() {
		return nil, fmt.Errorf("store: a write with a statement after it needs PostgreSQL, not %s", e.s.dialect.name())
	}
	return e.table(resource)
}

// runFold runs write (a record's INSERT or UPDATE, its placeholders numbered, args its
// arguments) as the WITH clause kiln_row of f.Then, and scans Then's one row; guarded: write
// may write nothing, and then Then reads no row (ErrUnwritten).
func (e *Exec) runFold(ctx context.Context, t *table, write string, args []any, f Fold, guarded bool) error {
	q := "WITH kiln_row AS (" + write + " RETURNING 1) " + rebindDollarFrom(f.Then, len(args)+1)
	return e.runFolded(ctx, t, q, append(args, f.Args...), f, guarded)
}

// runFolded runs q, a statement that writes to t and returns one row (none when guarded and
// its write wrote nothing: ErrUnwritten), scanned into f.Dest. With f.Last, as the first
// statement of a PostgreSQL transaction not begun, it runs alone (runDirect); in a transaction
// already begun it is one more statement of it.
func (e *Exec) runFolded(ctx context.Context, t *table, q string, args []any, f Fold, guarded bool) error {
	if f.Last && f.Dest != nil && e.unbegun() && e.s.writes != nil {
		return e.runDirect(ctx, t, q, args, f, guarded)
	}
	e.s.queries.Add(1)
	rows, err := e.q.QueryContext(ctx, q, args...)
	if err != nil {
		return e.tagTable(e.s.dialect.interpret(err), t.name)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return e.tagTable(e.s.dialect.interpret(err), t.name)
		}
		if guarded {
			return ErrUnwritten
		}
		return fmt.Errorf("store: write to %s: the statement after it returned no row", t.name)
	}
	if err := rows.Scan(f.Dest...); err != nil {
		return e.s.dialect.interpret(fmt.Errorf("store: write to %s: %w", t.name, err))
	}
	if err := rows.Close(); err != nil {
		return e.tagTable(e.s.dialect.interpret(err), t.name)
	}
	return nil
}

// groupedOutcome is runDirect's answer for a statement alone sent in a group (pggroup.go): it
// committed with its group unless err says otherwise.
func (e *Exec) groupedOutcome(t *table, wrote bool, err error, guarded bool) error {
	switch {
	case err != nil:
		return e.tagTable(e.s.dialect.interpret(err), t.name)
	case !wrote && guarded:
		return ErrUnwritten
	case !wrote:
		return fmt.Errorf("store: write to %s: the statement after it returned no row", t.name)
	}
	e.q = sealed{}
	e.s.alone.Add(1)
	return nil
}

// Update writes every stored field of rec and bumps its version. With ifVersion > 0 the
// write only happens when the stored version still matches (ErrStale otherwise).
func (e *Exec) Update(ctx context.Context, resource string, rec *Record, ifVersion int64) error {
	return e.UpdateFrom(ctx, resource, rec, nil, ifVersion)
}

// UpdateFrom is Update that sets only the columns whose value differs from old (the record
// as read in the same transaction; nil sets every column). An index none of whose columns
// is set keeps its entry: on SQLite each index entry rewritten is another page the commit
// writes, on PostgreSQL an update that changes no indexed column can stay on its page (HOT).
func (e *Exec) UpdateFrom(ctx context.Context, resource string, rec, old *Record, ifVersion int64) error {
	t, err := e.table(resource)
	if err != nil {
		return err
	}
	sqlText, args := t.updateFrom(e.s.dialect, rec, old, ifVersion)
	res, err := e.exec(ctx, sqlText, args)
	if err != nil {
		return e.tagRow(err, t, rec, true)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if ifVersion > 0 {
			if _, gerr := e.Get(ctx, resource, rec.ID, nil); gerr == nil {
				return ErrStale
			}
		}
		return ErrNotFound
	}
	rec.Version++
	return nil
}

// Delete removes a record — on a soft-delete resource it marks it deleted — and ifVersion > 0
// makes it conditional like Update.
func (e *Exec) Delete(ctx context.Context, resource, id string, ifVersion int64) error {
	t, err := e.table(resource)
	if err != nil {
		return err
	}
	if t.soft {
		return e.softDelete(ctx, t, id, ifVersion)
	}
	b := &builder{d: e.s.dialect, t: t}
	b.write("DELETE FROM ", quote(t.name), " WHERE ", quote("id"), " = ", b.arg(kUUID, 0, id))
	if ifVersion > 0 {
		b.write(" AND ", quote(VersionColumn), " = ", b.arg(kInt, 0, ifVersion))
	}
	return e.affected(ctx, b, t, id, ifVersion)
}

func (e *Exec) tagTable(err error, name string) error {
	var ce *ConstraintError
	if errors.As(err, &ce) && ce.Table == "" {
		ce.Table = name
	}
	return err
}
