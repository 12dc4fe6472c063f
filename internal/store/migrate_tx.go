package store

import (
	"context"
	"fmt"
)

// RebuildPrefix names the table a SQLite rebuild copies rows into before it takes the
// table's name; an error on it is reported on the table itself.
const RebuildPrefix = "kiln_new_"

// InSchemaTx runs fn in one transaction meant for schema changes. On SQLite, foreign keys are
// switched off around it (a table rebuild must not cascade deletes into the tables that
// reference it) and checked before commit; PostgreSQL's DDL is transactional as it is.
func (s *Store) InSchemaTx(ctx context.Context, fn func(tx *Exec) error) error {
	if s.dialect.name() != "sqlite" {
		return s.InTx(ctx, fn)
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("schema tx: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys=OFF"); err != nil {
		return fmt.Errorf("schema tx: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys=ON") }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("schema tx: %w", err)
	}
	if err := fn(&Exec{s: s, q: tx, tx: tx, db: s.writer}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := checkForeignKeys(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func checkForeignKeys(ctx context.Context, tx querier) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid, fkid any
		_ = rows.Scan(&table, &rowid, &parent, &fkid)
		return fmt.Errorf("migration leaves rows of %s pointing at missing %s records", table, parent)
	}
	return rows.Err()
}
