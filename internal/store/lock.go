package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// LockWaitFunc hears that a lock is held elsewhere: once when waiting starts (waited 0) and
// then every lockNotice while it goes on.
type LockWaitFunc func(waited time.Duration)

// lockNotice is how often a waiting caller is told it still waits.
const lockNotice = 5 * time.Second

// Lock takes the cluster-wide lock name and holds it until unlock is called: on PostgreSQL a
// session advisory lock keyed by name and the connection's current schema (so instances of one
// app serialize while apps in other schemas do not), held on a connection of its own; if that
// connection dies, PostgreSQL releases the lock. SQLite serves one process, whose single
// writer connection already serializes schema changes, so there it is a no-op.
// While another holder has the lock, Lock waits (until ctx ends) and tells waiting.
func (s *Store) Lock(ctx context.Context, name string, waiting LockWaitFunc) (unlock func(), err error) {
	if s.dialect.name() != "postgres" {
		return func() {}, nil
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, s.dialect.interpret(err))
	}
	const key = "hashtext($1), hashtext(current_schema())"
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+key+")", name).Scan(&got); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("lock %s: %w", name, s.dialect.interpret(err))
	}
	if !got {
		if err := waitLock(ctx, conn, key, name, waiting); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(uctx, "SELECT pg_advisory_unlock("+key+")", name)
		_ = conn.Close() // even if the unlock failed, a closed session holds no lock
	}, nil
}

// waitLock blocks on the advisory lock, telling waiting every lockNotice.
func waitLock(ctx context.Context, conn *sql.Conn, key, name string, waiting LockWaitFunc) error {
	start := time.Now()
	done := make(chan struct{})
	defer close(done)
	if waiting != nil {
		waiting(0)
		go func() {
			tick := time.NewTicker(lockNotice)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					select {
					case <-done: // the lock came with this tick: nothing to report
						return
					default:
						waiting(time.Since(start))
					}
				}
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")", name); err != nil {
		return fmt.Errorf("wait for lock %s: %w", name, err)
	}
	return nil
}

// LockTx takes the cluster-wide lock name until tx ends: on PostgreSQL a transaction advisory
// lock (keyed like Lock), so transactions that take it commit one after another in the order
// they took it; SQLite's single writer already does that.
func (e *Exec) LockTx(ctx context.Context, name string) error {
	if !e.inTransaction() {
		return fmt.Errorf("lock %s: not in a transaction", name)
	}
	if e.s.dialect.name() != "postgres" {
		return nil
	}
	if _, err := e.q.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1), hashtext(current_schema()))", name); err != nil {
		return fmt.Errorf("lock %s: %w", name, e.s.dialect.interpret(err))
	}
	return nil
}
