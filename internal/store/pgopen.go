package store

import (
	"context"
	"database/sql"
	"errors"
)

// A write transaction on PostgreSQL takes its connection when its first statement runs, not
// when it begins. Most writes are one statement alone (alone.go) that commits by itself: such
// a statement goes straight to pgx — through the write groups (pggroup.go) when others wait,
// on a connection of pgx's pool that only the one who sends takes (alone_direct.go) — and the
// transaction never takes a database/sql connection, a transaction object or their wrappers.
// Any other first statement begins the transaction as before (beginWrite) and the rest of it
// runs there.

// openTx is a PostgreSQL write transaction that InTx opened and that has not begun yet.
type openTx struct {
	ctx     context.Context // InTx's: the wait for a connection ends with it
	release func()          // gives the connection back, once begun
}

// inTransaction reports whether e runs inside a write transaction, begun or not.
func (e *Exec) inTransaction() bool { return e.tx != nil || e.open != nil }

// unbegun reports whether e is a write transaction that has run nothing yet.
func (e *Exec) unbegun() bool {
	if e.open == nil || e.tx != nil {
		return false
	}
	_, sealedAlready := e.q.(sealed)
	return !sealedAlready
}

// begin takes e's connection and begins its transaction, once; the error is the driver's, as
// a statement's would be (callers interpret it). A pooled connection that died while idle
// fails before anything ran: one more try on another is safe. Like a statement on a *sql.Tx
// run by one goroutine after another, a transaction's statements are never run at once.
func (e *Exec) begin() error {
	if e.tx != nil {
		return nil
	}
	if !e.unbegun() {
		return errSealed
	}
	tx, release, err := e.s.beginWrite(e.open.ctx)
	if err != nil && errors.Is(e.s.dialect.interpret(err), ErrUnavailable) {
		tx, release, err = e.s.beginWrite(e.open.ctx)
	}
	if err != nil {
		return err
	}
	e.tx, e.q, e.open.release = tx, tx, release
	return nil
}

// Tx is the transaction e runs in, begun now if it had not yet: the job queue enqueues
// through it, so a job commits or rolls back with the write that caused it. Outside a
// transaction, and once it committed with its one statement (Sealed), there is none.
func (e *Exec) Tx() (*sql.Tx, error) {
	if e.Sealed() || !e.inTransaction() {
		return nil, errors.New("store: not in a transaction that can run more statements")
	}
	if err := e.begin(); err != nil {
		return nil, e.s.dialect.interpret(err)
	}
	return e.tx, nil
}

// beginOnUse is the querier of a transaction not begun yet: its first statement begins it.
type beginOnUse struct{ e *Exec }

func (b beginOnUse) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := b.e.begin(); err != nil {
		return nil, err
	}
	return b.e.q.ExecContext(ctx, query, args...)
}

func (b beginOnUse) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := b.e.begin(); err != nil {
		return nil, err
	}
	return b.e.q.QueryContext(ctx, query, args...)
}

// inOpenTx is inTx on PostgreSQL: the transaction begins with its first statement (begin),
// or never when that statement ran alone (runDirect) or none ran.
func (s *Store) inOpenTx(ctx context.Context, fn func(tx *Exec) error) (err error) {
	ex := &Exec{s: s, db: s.writer, open: &openTx{ctx: ctx}}
	ex.q = beginOnUse{ex}
	defer func() {
		if ex.open.release != nil {
			ex.open.release()
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			ex.rollback()
			panic(p)
		}
		if err != nil {
			ex.rollback()
		}
	}()
	if err = fn(ex); err != nil {
		return txEnded(ctx, err)
	}
	switch {
	case ex.Sealed():
		// Its one statement committed it (alone.go): Commit only gives a connection back,
		// and may answer a context that ended since for a transaction that is over.
		if ex.tx != nil {
			_ = ex.tx.Commit()
		}
	case ctx.Err() != nil:
		return ctxEnded(ctx.Err()) // ended before COMMIT was sent: roll back, as database/sql would
	case ex.tx != nil:
		if err = ex.tx.Commit(); err != nil {
			return txEnded(ctx, s.dialect.interpret(err))
		}
	}
	for _, f := range ex.afterCommit {
		f()
	}
	return nil
}

// rollback rolls back e's transaction if it began.
func (e *Exec) rollback() {
	if e.tx != nil {
		_ = e.tx.Rollback()
	}
}
