package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"

	"modernc.org/sqlite"
)

// maxConnStmts bounds the statements one SQLite connection keeps prepared.
const maxConnStmts = 256

// stmtConnector opens SQLite connections that keep the statements they prepare, keyed by
// their text. The job queue's SQLite driver sends every statement as text, and modernc would
// parse each anew on every call (its long fetch, insert and completion statements cost more
// to parse than to run). A connection offers no direct Exec or Query, so database/sql
// prepares through it and finds the statement already there.
//
// While shared is set (a batch's transaction holds other writes: batcher), a statement whose
// context has not ended runs to its end: an interrupted write would roll the whole
// transaction back.
type stmtConnector struct {
	dsn    string
	drv    *sqlite.Driver
	shared *atomic.Bool
}

var _ driver.Connector = stmtConnector{}

func (c stmtConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	unlockConn(conn)
	stablePlans(conn)
	return &stmtConn{inner: conn, stmts: map[string]*keptStmt{}, shared: c.shared}, nil
}

func (c stmtConnector) Driver() driver.Driver { return c.drv }

// stmtConn is one SQLite connection with its kept statements. database/sql uses a
// connection from one goroutine at a time, so it needs no lock.
type stmtConn struct {
	inner  driver.Conn
	stmts  map[string]*keptStmt
	shared *atomic.Bool
	args   []driver.NamedValue // queryDirect's
	rows   driverRows          // queryDirect's
}

var (
	_ driver.ConnPrepareContext = (*stmtConn)(nil)
	_ driver.ConnBeginTx        = (*stmtConn)(nil)
	_ driver.SessionResetter    = (*stmtConn)(nil)
	_ driver.Validator          = (*stmtConn)(nil)
	_ driver.Pinger             = (*stmtConn)(nil)
)

func (c *stmtConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext hands out the kept statement for query when it is free; a statement still in
// use (its rows open) is never handed out twice: a second one is prepared for the caller.
func (c *stmtConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if s := c.stmts[query]; s != nil && !s.busy {
		s.busy = true
		return s, nil
	}
	inner, err := c.inner.(driver.ConnPrepareContext).PrepareContext(live(ctx), query)
	if err != nil {
		return nil, err
	}
	s := &keptStmt{Stmt: inner, busy: true, shared: c.shared}
	if c.stmts[query] == nil && len(c.stmts) < maxConnStmts {
		s.kept = true
		c.stmts[query] = s
	}
	return s, nil
}

func (c *stmtConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *stmtConn) ResetSession(ctx context.Context) error {
	return c.inner.(driver.SessionResetter).ResetSession(ctx)
}

func (c *stmtConn) IsValid() bool { return c.inner.(driver.Validator).IsValid() }

func (c *stmtConn) Ping(ctx context.Context) error { return c.inner.(driver.Pinger).Ping(ctx) }

// Close finalizes the kept statements, then closes the connection.
func (c *stmtConn) Close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.Stmt.Close())
	}
	c.stmts = nil
	return errors.Join(append(errs, c.inner.Close())...)
}

// keptStmt is a prepared statement; Close frees a kept one for the next caller instead of
// finalizing it.
type keptStmt struct {
	driver.Stmt
	kept, busy bool
	shared     *atomic.Bool
}

func (s *keptStmt) Close() error {
	if s.kept {
		s.busy = false
		return nil
	}
	return s.Stmt.Close()
}

func (s *keptStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, err := s.context(ctx)
	if err != nil {
		return nil, err
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *keptStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, err := s.context(ctx)
	if err != nil {
		return nil, err
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// context is the context the statement runs under: ctx, or, for a bounded statement
// (quietCtx) and while other writes share the transaction, one without its end (once checked
// it has not ended).
func (s *keptStmt) context(ctx context.Context) (context.Context, error) {
	q, isQuiet := ctx.(quietCtx)
	if !isQuiet && (s.shared == nil || !s.shared.Load()) {
		return ctx, nil
	}
	if err := live(ctx).Err(); err != nil {
		return nil, err
	}
	if isQuiet {
		return q, nil
	}
	return context.WithoutCancel(ctx), nil
}

func (s *keptStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
