package store

import (
	"context"
	"time"
)

// quietCtx is a context whose end database/sql does not see. database/sql starts a goroutine
// for every query, and for every transaction, whose context can end, only to watch it; the
// drivers watch it anyway (pgx sends a cancel request, SQLite interrupts the statement), and
// that is what stops a statement. The store hands database/sql a quiet context and its driver
// connections (stmtConn, lazyConn) take the live one back out (live). A bounded statement —
// one row read by its primary key — runs on SQLite without the driver's watch either (one
// more goroutine per statement there): its context is checked before it starts.
//
// What database/sql itself did with the context is gone with it: a wait for one of SQLite's
// reader connections (PostgreSQL's pool is pgxpool's, asked with the live context) lasts until a
// reader is free, which the statements holding them bound with their own deadlines; the
// statement then refuses the ended context at once.
type quietCtx struct {
	context.Context
	bounded bool
}

func (quietCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (quietCtx) Done() <-chan struct{}       { return nil }
func (quietCtx) Err() error                  { return nil }

// quiet hides ctx's end from database/sql; a context that cannot end, or is quiet already,
// is returned as it is.
func quiet(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return quietCtx{Context: ctx}
}

// bounded is quiet for a statement whose work is bounded (see quietCtx).
func bounded(ctx context.Context) context.Context {
	if q, ok := ctx.(quietCtx); ok {
		q.bounded = true
		return q
	}
	if ctx.Done() == nil {
		return ctx
	}
	return quietCtx{Context: ctx, bounded: true}
}

// live is the context a driver runs a statement under: the one quiet hid, or ctx itself.
func live(ctx context.Context) context.Context {
	if q, ok := ctx.(quietCtx); ok {
		return q.Context
	}
	return ctx
}
