package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// runDirect runs q, a statement alone (Fold.Last) that is the first of a transaction not begun
// (pgopen.go), straight on pgx: it waits for its turn in the write groups (pggroup.go) holding
// no connection; whoever sends takes one of pgx's pool for that, and the statement commits by
// itself or with its group, with these outcomes: ErrUnwritten when its guard did not hold, a failed group's statements run
// again by themselves, a statement whose context ends is cancelled on the server and its
// answer awaited (aloneWatch), and one that failed before anything was sent is beginLost
// (InTx runs the transaction again).
func (e *Exec) runDirect(ctx context.Context, t *table, q string, args []any, f Fold, guarded bool) error {
	ctx = live(ctx)
	e.s.queries.Add(1)
	if err := ctx.Err(); err != nil {
		return e.tagTable(e.s.dialect.interpret(err), t.name)
	}
	g := e.s.writes
	m := newGroupMember(q, args, f.Dest)
	tn, err := g.turn(ctx, m)
	if err != nil {
		return e.tagTable(e.s.dialect.interpret(err), t.name)
	}
	switch {
	case tn == nil: // another member sent it
	case len(tn.ms) == 1:
		err := e.runOnPool(ctx, t, q, args, f, guarded)
		g.end(tn)
		return err
	default:
		g.sendOnPool(e.s.pool, tn.ms)
		g.end(tn)
	}
	if m.again {
		return e.runOnPool(ctx, t, q, args, f, guarded)
	}
	return e.groupedOutcome(t, m.wrote, m.err, guarded)
}

// runOnPool runs q by itself on a connection of pgx's pool: it commits as it ends.
func (e *Exec) runOnPool(ctx context.Context, t *table, q string, args []any, f Fold, guarded bool) error {
	c, err := e.s.pool.Acquire(ctx)
	if err != nil {
		return e.tagTable(e.s.dialect.interpret(unconnected(ctx, err)), t.name)
	}
	defer c.Release()
	bc := aloneOn(c.Conn())
	bc.alone.Store(true) // until its rows are read: the implicit transaction commits at their end
	defer bc.alone.Store(false)
	wrote, err := scanOne(ctx, c.Conn(), t.name, q, args, f.Dest)
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

// scanOne runs q, a write to table name, on conn and scans its first row, if any, into dest,
// reading the rest.
func scanOne(ctx context.Context, conn *pgx.Conn, name, q string, args, dest []any) (bool, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return false, notSent(ctx, err)
	}
	wrote := rows.Next()
	if wrote {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return false, fmt.Errorf("store: write to %s: %w", name, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, notSent(ctx, err)
	}
	return wrote, nil
}

// notSent marks err as beginLost when nothing was sent (pgconn.SafeToRetry: the statement can
// run again, on another connection), or as ctx's end when that is why.
func notSent(ctx context.Context, err error) error {
	if !pgconn.SafeToRetry(err) {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &beginLostError{err: err}
}

// unconnected marks err, a connection not had, as beginLost (nothing was sent: InTx runs the
// transaction again, as it does when BEGIN fails on a connection that died while idle),
// unless ctx's end is why.
func unconnected(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &beginLostError{err: err}
}

// aloneOn is the beginConn under conn, or a stand-in when there is none.
func aloneOn(conn *pgx.Conn) *beginConn {
	if bc, ok := conn.PgConn().Conn().(*beginConn); ok {
		return bc
	}
	return &beginConn{}
}

// sendOnPool sends the group ms on a connection of pool (send); when none comes within
// groupStall, none of ms was sent and each runs again by itself.
func (g *pgGroups) sendOnPool(pool *pgxpool.Pool, ms []*groupMember) {
	ctx, cancel := context.WithTimeout(context.Background(), groupStall)
	c, err := pool.Acquire(ctx)
	cancel()
	if err != nil {
		for i, m := range ms {
			m.wrote, m.again, m.err = false, true, nil
			if i > 0 {
				close(m.done)
			}
		}
		return
	}
	defer c.Release()
	bc := aloneOn(c.Conn())
	bc.alone.Store(true) // a group cancelled on timeout is awaited (aloneWatch)
	defer bc.alone.Store(false)
	g.send(c.Conn(), ms)
}
