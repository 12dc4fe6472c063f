package store

import (
	"context"
	"fmt"

	"github.com/kiln-dev/kiln/internal/query"
)

// LockRow locks one record until the transaction ends, so writes that check an invariant
// hanging on it run one after the other: PostgreSQL SELECT … FOR UPDATE; SQLite's single
// writer connection already serializes write transactions, so there it does nothing.
// A missing record is no error (the check that reads it reports it).
func (e *Exec) LockRow(ctx context.Context, resource, id string) error {
	if e.tx == nil {
		return fmt.Errorf("store: LockRow outside a transaction")
	}
	if e.s.dialect.name() == "sqlite" {
		return nil
	}
	t, err := e.table(resource)
	if err != nil {
		return err
	}
	b := &builder{d: e.s.dialect, t: t}
	ph := b.arg(kUUID, 0, id)
	b.write("SELECT 1 FROM ", quote(t.name), " WHERE ", quote("id"), " = ", ph, " FOR UPDATE")
	rows, err := e.query(ctx, b.sb.String(), b.args)
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
	rows, err := e.query(ctx, b.sb.String(), b.args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	target := e.s.dialect.scanTarget(k)
	if rows.Next() {
		if err := rows.Scan(target); err != nil {
			return nil, fmt.Errorf("scan %s(%s): %w", fn, field, err)
		}
	}
	if err := e.s.dialect.interpret(rows.Err()); err != nil {
		return nil, err
	}
	return e.s.dialect.decode(k, scale, target)
}
