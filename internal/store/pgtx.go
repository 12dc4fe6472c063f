package store

import (
	"context"
	"database/sql/driver"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// beginConnector hands database/sql pgx connections whose transactions begin lazily: BEGIN
// rides along with the transaction's first statement (beginConn) instead of costing a round
// trip of its own.
type beginConnector struct{ inner driver.Connector }

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
	pc := c.Conn.Conn().PgConn()
	bc, ok := pc.Conn().(*beginConn)
	if !ok || !lazyBegin || opts.Isolation != 0 || opts.ReadOnly || pc.IsClosed() || pc.TxStatus() != 'I' {
		return c.Conn.BeginTx(ctx, opts)
	}
	bc.queue()
	c.tx = &lazyTx{ctx: ctx, c: c, bc: bc}
	return c.tx, nil
}

// beginNow sends a queued BEGIN on its own: the statement about to run goes by the simple
// protocol (pgx uses it for statements without arguments), which cannot carry it safely.
func (c *lazyConn) beginNow(ctx context.Context) error {
	if c.tx == nil || !c.tx.bc.unqueue() {
		return nil
	}
	_, err := c.Conn.Conn().Exec(ctx, "begin")
	return err
}

func (c *lazyConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		if err := c.beginNow(ctx); err != nil {
			return nil, err
		}
	}
	return c.Conn.ExecContext(ctx, query, args)
}

func (c *lazyConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		if err := c.beginNow(ctx); err != nil {
			return nil, err
		}
	}
	return c.Conn.QueryContext(ctx, query, args)
}

// lazyTx ends a lazily begun transaction the way pgx ends its own; one whose BEGIN was never
// sent ran nothing, and ends without a word to the server.
type lazyTx struct {
	ctx context.Context
	c   *lazyConn
	bc  *beginConn
}

func (t *lazyTx) Commit() error {
	t.c.tx = nil
	if t.bc.unqueue() {
		return nil
	}
	conn := t.c.Conn.Conn()
	tag, err := conn.Exec(t.ctx, "commit")
	if err != nil {
		if conn.PgConn().TxStatus() != 'I' {
			_ = conn.Close(t.ctx)
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
	if t.bc.unqueue() {
		return nil
	}
	conn := t.c.Conn.Conn()
	if _, err := conn.Exec(t.ctx, "rollback"); err != nil {
		_ = conn.Close(t.ctx)
		return err
	}
	return nil
}
