package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// beginConnector hands database/sql pgx connections whose transactions begin lazily: BEGIN
// rides along with the transaction's first statement (beginConn) instead of costing a round
// trip of its own.
type beginConnector struct {
	inner driver.Connector
}

func (c beginConnector) Driver() driver.Driver { return c.inner.Driver() }

func (c beginConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if sc, ok := dc.(*stdlib.Conn); ok {
		return &lazyConn{Conn: sc}, nil
	}
	return dc, nil
}

// lazyConn is stdlib's connection with a BeginTx that queues BEGIN on the network connection.
type lazyConn struct {
	*stdlib.Conn
	tx *lazyTx // the open transaction, if it began lazily
}

// lazyBegin switches lazy BEGIN on (benchmarks compare against it off).
var lazyBegin = true

func (c *lazyConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	conn := c.Conn.Conn()
	pc := conn.PgConn()
	bc, ok := pc.Conn().(*beginConn)
	// With the simple protocol as the default (default_query_exec_mode=simple_protocol in the
	// URL, as behind some poolers) no statement could carry BEGIN: begin at once.
	simple := conn.Config().DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol
	ctx = live(ctx) // database/sql may be handed a quiet one (Store.beginWrite); pgx watches the live one
	if !ok || !lazyBegin || simple || opts.Isolation != 0 || opts.ReadOnly || pc.IsClosed() || pc.TxStatus() != 'I' {
		return c.Conn.BeginTx(ctx, opts)
	}
	bc.queue()
	c.tx = &lazyTx{ctx: ctx, c: c, bc: bc, first: true}
	return c.tx, nil
}

// beginLost reports whether err is a transaction's first statement failing with its connection
// (one that died while idle in the pool, say): BEGIN went with it, so nothing of the
// transaction ran and it can run again from the start on another connection.
func beginLost(err error) bool {
	var bl *beginLostError
	return errors.As(err, &bl)
}

type beginLostError struct{ err error }

func (e *beginLostError) Error() string { return e.err.Error() }
func (e *beginLostError) Unwrap() error { return e.err }

// firstStatement reports whether the statement about to run is the lazy transaction's first.
func (c *lazyConn) firstStatement() bool {
	if c.tx == nil || !c.tx.first {
		return false
	}
	c.tx.first = false
	return true
}

// lost marks err as beginLost when the first statement failed and took the connection with it.
func (c *lazyConn) lost(first bool, err error) error {
	if first && err != nil && c.Conn.Conn().IsClosed() {
		return &beginLostError{err: err}
	}
	return err
}

// QueryContext runs under the live context (a bounded read's is quiet: quietCtx). One that
// ended before the statement started gets the context's error, as database/sql answers for a
// context it sees: pgx's stdlib says driver.ErrBadConn then (nothing was sent), which would
// discard a sound connection.
func (c *lazyConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx = live(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first := c.firstStatement()
	rows, err := c.Conn.QueryContext(ctx, query, args)
	return rows, c.lost(first, ended(ctx, err))
}

// ended is ctx's error when err is driver.ErrBadConn for a context that ended after database/sql
// looked (see QueryContext).
func ended(ctx context.Context, err error) error {
	if errors.Is(err, driver.ErrBadConn) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// ExecContext sends a queued BEGIN on its own first when the statement has no arguments: pgx
// sends those by the simple protocol, which cannot carry it (beginConn refuses to try). A
// query always goes by the extended protocol (stdlib adds its result formats as an argument).
func (c *lazyConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	first := c.firstStatement()
	if len(args) == 0 && c.tx != nil && c.tx.bc.unqueue() {
		if _, err := c.Conn.Conn().Exec(ctx, "begin"); err != nil {
			c.tx.bc.queue() // nothing began: a later statement must not run outside the transaction
			return nil, c.lost(first, err)
		}
	}
	res, err := c.Conn.ExecContext(ctx, query, args)
	return res, c.lost(first, ended(ctx, err))
}

// errNoTransaction is Commit's answer when the transaction's BEGIN failed.
var errNoTransaction = errors.New("postgres: commit: no transaction is open (its BEGIN failed)")

// lazyTx ends a lazily begun transaction the way pgx ends its own; one whose BEGIN was never
// sent ran nothing, and ends without a word to the server.
type lazyTx struct {
	ctx   context.Context
	c     *lazyConn
	bc    *beginConn
	first bool // no statement has run yet
}

func (t *lazyTx) Commit() error {
	t.c.tx = nil
	t.bc.alone.Store(false)
	if t.bc.unqueue() {
		return nil
	}
	conn := t.c.Conn.Conn()
	if conn.PgConn().TxStatus() == 'I' {
		// BEGIN was sent but no transaction is open: it failed, and the caller went on
		// regardless. Never report that as committed.
		return errNoTransaction
	}
	// The request's deadline bounds a COMMIT too (deferred triggers run in it), but as it
	// bounds a statement alone: the server is asked to cancel it and its answer is awaited
	// (aloneWatch), so the caller hears whether it committed; pgx's own way cuts the connection
	// and leaves that unknown.
	t.bc.alone.Store(true)
	tag, err := conn.Exec(t.ctx, "commit")
	t.bc.alone.Store(false)
	if err != nil {
		if conn.PgConn().TxStatus() != 'I' {
			_ = conn.Close(context.WithoutCancel(t.ctx))
		}
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

func (t *lazyTx) Rollback() error {
	t.c.tx = nil
	t.bc.alone.Store(false)
	if t.bc.unqueue() {
		return nil
	}
	conn := t.c.Conn.Conn()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), rollbackGrace)
	defer cancel()
	if _, err := conn.Exec(ctx, "rollback"); err != nil {
		_ = conn.Close(ctx)
		return err
	}
	return nil
}

// rollbackGrace bounds a ROLLBACK, which runs on whether or not the request's context ended:
// a transaction that failed because its context ended keeps its sound connection.
const rollbackGrace = 5 * time.Second
