package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Soft delete: a resource declared with soft_delete keeps its deleted rows, marked in
// DeletedColumn, until they are purged. Every read of this package hides them — get, list,
// count, aggregates, expand, N:M ids and membership — except the ones named for them
// (GetDeleted, List with Deleted, Restore, Purge).

// andLive is " AND <table>.kiln_deleted_at IS NULL" on a soft-delete table, "" otherwise.
func (t *table) andLive() string {
	if !t.soft {
		return ""
	}
	return " AND " + t.liveCol() + " IS NULL"
}

func (t *table) liveCol() string { return quote(t.name) + "." + quote(DeletedColumn) }

// liveTarget is the condition on a join table's rows that hides links to soft-deleted
// targets of f ("" when its target does not soft-delete).
func liveTarget(s *spec.Spec, f *spec.Field, join, other string) string {
	if f.Relation == nil {
		return ""
	}
	target := s.Resource(f.Relation.To)
	if target == nil || !target.SoftDelete {
		return ""
	}
	return " AND EXISTS (SELECT 1 FROM " + quote(target.Name) + " AS kiln_t WHERE kiln_t." + quote("id") + " = " +
		quote(join) + "." + quote(other) + " AND kiln_t." + quote(DeletedColumn) + " IS NULL)"
}

// linkLive computes liveTarget for each of the table's N:M fields (to-many and inverse).
func (t *table) linkLive(s *spec.Spec) map[string]string {
	out := map[string]string{}
	for _, f := range t.res.Fields {
		if jt, _, other, ok := t.res.Link(f); ok {
			out[f.Name] = liveTarget(s, f, jt, other)
		}
	}
	return out
}

// softDelete marks the record deleted. Records that reference it keep their reference (the
// row is still there, so nothing dangles); reads simply no longer find it, and it is not
// purged while they do.
func (e *Exec) softDelete(ctx context.Context, t *table, id string, ifVersion int64) error {
	b := &builder{d: e.s.dialect, t: t}
	now := time.Now().UTC()
	b.write("UPDATE ", quote(t.name), " SET ", quote(DeletedColumn), " = ", b.arg(kTime, 0, now), ", ",
		quote("updated_at"), " = ", b.arg(kTime, 0, now), ", ", quote(VersionColumn), " = ", quote(VersionColumn), " + 1",
		" WHERE ", quote("id"), " = ", b.arg(kUUID, 0, id), t.andLive())
	if ifVersion > 0 {
		b.write(" AND ", quote(VersionColumn), " = ", b.arg(kInt, 0, ifVersion))
	}
	return e.affected(ctx, b, t, id, ifVersion)
}

// affected runs a one-row write and reports a missing row as ErrNotFound, or as ErrStale
// when ifVersion was given and the record is there at another version.
func (e *Exec) affected(ctx context.Context, b *builder, t *table, id string, ifVersion int64) error {
	res, err := e.exec(ctx, b.text(), b.args)
	if err != nil {
		return e.tagTable(err, t.name)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if ifVersion > 0 {
			if _, gerr := e.Get(ctx, t.name, id, nil); gerr == nil {
				return ErrStale
			}
		}
		return ErrNotFound
	}
	return nil
}

// GetDeleted reads one soft-deleted record by id, also requiring where when given.
func (e *Exec) GetDeleted(ctx context.Context, resource, id string, where query.Cond) (*Record, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	if !t.soft {
		return nil, ErrNotFound
	}
	b := &builder{d: e.s.dialect, t: t, trash: true}
	b.write("SELECT ", t.selectList, " FROM ", quote(t.name))
	if err := b.where(query.AndOf(query.Compare{Field: "id", Op: query.Eq, Value: id}, where)); err != nil {
		return nil, err
	}
	return e.first(ctx, t, b)
}

// where writes a WHERE clause of c and, on a soft-delete table, of liveness (or of being
// deleted, for a builder reading the trash).
func (b *builder) where(c query.Cond) error {
	if c == nil && !b.t.soft {
		return nil
	}
	b.write(" WHERE ")
	if b.t.soft {
		b.write(b.t.liveCol())
		if b.trash {
			b.write(" IS NOT NULL")
		} else {
			b.write(" IS NULL")
		}
		if c == nil {
			return nil
		}
		b.write(" AND ")
	}
	return b.cond(c)
}

// Restore brings a soft-deleted record back with its values as they were; a unique value
// taken meanwhile fails as a unique ConstraintError.
func (e *Exec) Restore(ctx context.Context, resource string, rec *Record) error {
	t, err := e.table(resource)
	if err != nil {
		return err
	}
	b := &builder{d: e.s.dialect, t: t}
	now := time.Now().UTC()
	b.write("UPDATE ", quote(t.name), " SET ", quote(DeletedColumn), " = NULL, ",
		quote("updated_at"), " = ", b.arg(kTime, 0, now), ", ", quote(VersionColumn), " = ", quote(VersionColumn), " + 1",
		" WHERE ", quote("id"), " = ", b.arg(kUUID, 0, rec.ID), " AND ", t.liveCol(), " IS NOT NULL")
	if err := e.affected(ctx, b, t, rec.ID, 0); err != nil {
		return e.tagRow(err, t, rec, true)
	}
	rec.UpdatedAt, rec.Version = now, rec.Version+1
	return nil
}

// Purge removes soft-deleted records of resource deleted before cutoff, at most limit of
// them, and says how many went. Records a live or deleted record still references through
// a required relation stay until that one is purged.
func (e *Exec) Purge(ctx context.Context, resource string, cutoff time.Time, limit int) (int64, error) {
	t, b, err := e.purgeSQL(resource, cutoff, limit)
	if err != nil || b == nil {
		return 0, err
	}
	res, err := e.exec(ctx, b.text(), b.args)
	if err != nil {
		return 0, e.tagTable(err, t.name)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PurgeFiles is Purge for a resource with file fields: it returns the purged records with
// only their file fields' values (as stored), so their files can be deleted too.
func (e *Exec) PurgeFiles(ctx context.Context, resource string, cutoff time.Time, limit int) ([]*Record, error) {
	t, b, err := e.purgeSQL(resource, cutoff, limit)
	if err != nil || b == nil {
		return nil, err
	}
	var cols []column
	for _, c := range t.cols {
		if c.field.Type == spec.TypeFile {
			cols = append(cols, c)
			b.write(map[bool]string{true: " RETURNING ", false: ", "}[len(cols) == 1], quote(c.name))
		}
	}
	if len(cols) == 0 {
		return nil, errors.New("store: PurgeFiles on a resource without file fields")
	}
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return nil, e.tagTable(err, t.name)
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, e.s.dialect.interpret(err)
		}
		rec := &Record{Values: make([]any, len(t.res.Fields))}
		for i, c := range cols {
			if vals[i].Valid {
				rec.Values[c.idx] = vals[i].String
			}
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func (e *Exec) purgeSQL(resource string, cutoff time.Time, limit int) (*table, *builder, error) {
	t, err := e.table(resource)
	if err != nil || !t.soft {
		return t, nil, err
	}
	b := &builder{d: e.s.dialect, t: t}
	// The deletion time is tested by the DELETE itself too, not only by its subquery: on
	// PostgreSQL a row a restore brought back while the DELETE waited for it is checked again
	// by the outer condition alone (the subquery keeps its snapshot), so it must say "still
	// deleted before the cutoff", or the restored record would be purged.
	b.write("DELETE FROM ", quote(t.name), " WHERE ", t.liveCol(), " < ", b.arg(kTime, 0, cutoff.UTC()), " AND ", quote("id"), " IN (SELECT ", quote("id"), " FROM ", quote(t.name),
		" WHERE ", t.liveCol(), " < ", b.arg(kTime, 0, cutoff.UTC()))
	e.unreferenced(b, t)
	b.write(" ORDER BY ", t.liveCol(), " LIMIT ", b.arg(kInt, 0, int64(limit)), ")")
	return t, b, nil
}

// unreferenced adds "no row references it through a required relation" to a purge.
func (e *Exec) unreferenced(b *builder, t *table) {
	for _, child := range e.s.tables {
		for _, c := range child.cols {
			f := c.field
			if f.Relation == nil || f.Relation.To != t.name || !f.Required {
				continue
			}
			b.write(" AND NOT EXISTS (SELECT 1 FROM ", quote(child.name), " AS kiln_c WHERE kiln_c.", quote(c.name),
				" = ", quote(t.name), ".", quote("id"), ")")
		}
	}
}
