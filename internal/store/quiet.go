package store

import (
	"context"
	"time"
)

// quietCtx is a context whose end database/sql does not see, for a bounded statement: one
// row read by its primary key (with conditions on that row alone). database/sql starts a
// goroutine for every query whose context can end, only to watch it, and modernc's SQLite
// driver starts another to interrupt the statement; for a read that finishes in microseconds
// both cost more than the read. On SQLite the store hands database/sql the quiet context for
// the statement only: the connection is taken with the live one (firstBounded), so a wait for
// it still ends with the context, and the driver connection (stmtConn) checks the live one
// before the statement starts; SQLite runs the read to its end. On PostgreSQL such a read skips
// database/sql and runs on pgx's pool under the live context (firstOnPool), which pgx watches
// with context.AfterFunc, no goroutine. Any other statement keeps its live context, and
// database/sql stops a loop over its rows when it ends.
type quietCtx struct{ context.Context }

func (quietCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (quietCtx) Done() <-chan struct{}       { return nil }
func (quietCtx) Err() error                  { return nil }

// bounded hides ctx's end from database/sql for a bounded statement (see quietCtx). A
// context that cannot end is wrapped too: the statement always takes the same way, so its
// text is never also held prepared by the store's statement cache on the reader (a statement
// a connection keeps serves one holder at a time: stmtConn).
func bounded(ctx context.Context) context.Context {
	if _, ok := ctx.(quietCtx); ok {
		return ctx
	}
	return quietCtx{Context: ctx}
}

// live is the context a driver runs a statement under: the one quiet hid, or ctx itself.
func live(ctx context.Context) context.Context {
	if q, ok := ctx.(quietCtx); ok {
		return q.Context
	}
	return ctx
}
