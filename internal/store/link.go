package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
)

// Links reads the N:M links of field for the given source ids: source id → target ids,
// in one query.
func (e *Exec) Links(ctx context.Context, resource, field string, ids []string) (map[string][]string, error) {
	return e.Linked(ctx, resource, field, ids, 0)
}

// Linked reads the ids an N:M field (a to-many field, in its order, or the inverse of one,
// in id order) links each of ids to, at most perID of them each when perID > 0, in one query.
func (e *Exec) Linked(ctx context.Context, resource, field string, ids []string, perID int) (map[string][]string, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	f := t.res.Field(field)
	if f == nil {
		return nil, fmt.Errorf("store: %s has no field %q", resource, field)
	}
	jt, self, other, ok := t.res.Link(f)
	if !ok {
		return nil, fmt.Errorf("store: %s.%s is not an N:M relation", resource, field)
	}
	out := make(map[string][]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	order := quote(other)
	if f.IsToMany() {
		order = quote("position")
	}
	b := &builder{d: e.s.dialect, t: t}
	phs := make([]string, len(ids))
	for i, id := range ids {
		phs[i] = b.arg(kUUID, 0, id)
	}
	b.write("SELECT ", quote(self), ", ", quote(other), " FROM (SELECT ", quote(self), ", ", quote(other), ", ", quote("position"),
		", ROW_NUMBER() OVER (PARTITION BY ", quote(self), " ORDER BY ", order, ") AS kiln_rn FROM ", quote(jt),
		" WHERE ", quote(self), " IN (", strings.Join(phs, ", "), ")", t.live[field], ") AS kiln_links")
	if perID > 0 {
		b.write(" WHERE kiln_rn <= ", b.arg(kInt, 0, int64(perID)))
	}
	b.write(" ORDER BY ", quote(self), ", kiln_rn")
	return e.scanLinks(ctx, b, out)
}

func (e *Exec) scanLinks(ctx context.Context, b *builder, out map[string][]string) (map[string][]string, error) {
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s, o string
		if err := rows.Scan(&s, &o); err != nil {
			return nil, e.s.dialect.interpret(err)
		}
		out[s] = append(out[s], o)
	}
	return out, e.s.dialect.interpret(rows.Err())
}

// SetLinks replaces the N:M links of field for one source record, keeping the given order.
func (e *Exec) SetLinks(ctx context.Context, resource, field, id string, targets []string) error {
	t, err := e.table(resource)
	if err != nil {
		return err
	}
	f := t.res.Field(field)
	if f == nil || !f.IsToMany() {
		return fmt.Errorf("store: %s.%s is not a to-many relation", resource, field)
	}
	jt, self, other := t.res.JoinTable(f)
	del := &builder{d: e.s.dialect, t: t}
	del.write("DELETE FROM ", quote(jt), " WHERE ", quote(self), " = ", del.arg(kUUID, 0, id))
	if _, err := e.exec(ctx, del.sb.String(), del.args); err != nil {
		return err
	}
	if len(targets) == 0 {
		return nil
	}
	ins := &builder{d: e.s.dialect, t: t}
	ins.write("INSERT INTO ", quote(jt), " (", quote(self), ", ", quote(other), ", ", quote("position"), ") VALUES ")
	for i, target := range targets {
		if i > 0 {
			ins.write(", ")
		}
		ins.write("(", ins.arg(kUUID, 0, id), ", ", ins.arg(kUUID, 0, target), ", ", ins.arg(kInt, 0, int64(i)), ")")
	}
	_, err = e.exec(ctx, ins.sb.String(), ins.args)
	return e.tagTable(err, jt)
}

// ExistingIDs returns which of ids exist in resource and meet where (nil: any record), in one query.
func (e *Exec) ExistingIDs(ctx context.Context, resource string, ids []string, where query.Cond) (map[string]bool, error) {
	t, err := e.table(resource)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	b := &builder{d: e.s.dialect, t: t}
	phs := make([]string, len(ids))
	for i, id := range ids {
		phs[i] = b.arg(kUUID, 0, id)
	}
	b.write("SELECT ", quote("id"), " FROM ", quote(t.name), " WHERE ", quote("id"), " IN (", strings.Join(phs, ", "), ")", t.andLive())
	if where != nil {
		b.write(" AND ")
		if err := b.cond(where); err != nil {
			return nil, err
		}
	}
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, e.s.dialect.interpret(err)
		}
		out[id] = true
	}
	return out, e.s.dialect.interpret(rows.Err())
}

// Holding reports whether a live record of resource meets where. In a transaction on
// PostgreSQL the row found is locked FOR SHARE until the transaction ends: a write let through
// by it (an access rule's exists(), a relation it follows) cannot race the change that would
// have refused it — two owners each removing the other's membership, one of them waits and
// then finds itself no owner.
func (e *Exec) Holding(ctx context.Context, resource string, where query.Cond) (bool, error) {
	t, err := e.table(resource)
	if err != nil {
		return false, err
	}
	b := &builder{d: e.s.dialect, t: t}
	b.write("SELECT ", quote("id"), " FROM ", quote(t.name))
	if err := b.where(where); err != nil {
		return false, err
	}
	b.write(" LIMIT 1")
	if e.LocksRows() {
		b.write(" FOR SHARE")
	}
	rows, err := e.query(ctx, b.text(), b.args)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := rows.Next()
	return found, e.s.dialect.interpret(rows.Err())
}
