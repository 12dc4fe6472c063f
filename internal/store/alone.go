package store

import (
	"context"
	"database/sql"
	"errors"
)

// A create that writes nothing but its record and its event — one statement on PostgreSQL
// (InsertScanning) — paid two more messages for its transaction: BEGIN, sent with the statement
// (beginConn), and COMMIT, a round trip of its own. When that statement is the transaction's
// first and the caller runs nothing after it (Fold.Last), nothing needs the transaction: the
// statement runs by itself and PostgreSQL commits it as it ends (an implicit transaction, as
// atomic as the explicit one). The Exec is then sealed: the transaction is over, any statement
// after it fails, and its Commit sends nothing. A statement that wrote nothing (a Fold.Guard
// that did not hold) or failed leaves the transaction as it was, not begun.

// ErrUnwritten is InsertScanning's answer when its Fold.Guard did not hold: nothing was written.
var ErrUnwritten = errors.New("store: the insert's guard did not hold; nothing was written")

// errSealed refuses a statement on a transaction that already committed with its one statement.
var errSealed = errors.New("store: the transaction committed with its one statement; nothing may follow it")

// Fold is the statement InsertScanning runs on a record's insert, in the same statement.
type Fold struct {
	// Then reads kiln_row (the insert's one row of one column), with ? placeholders for Args;
	// its one row is scanned into Dest.
	Then string
	Args []any
	Dest []any
	// Guard, when set, is a condition (fixed SQL with ? placeholders for GuardArgs) the insert
	// is made under: when it does not hold nothing is written and the answer is ErrUnwritten.
	Guard     string
	GuardArgs []any
	// Last says the caller runs nothing more on the transaction once the statement wrote: on
	// PostgreSQL a statement that is the transaction's first then runs and commits by itself.
	Last bool
}

// aloneMark asks the driver connection (lazyConn) to run a transaction's first statement by
// itself, without the BEGIN that waits for it; ran says it did.
type aloneMark struct{ ran bool }

type aloneKey struct{}

func withAlone(ctx context.Context, m *aloneMark) context.Context {
	return context.WithValue(ctx, aloneKey{}, m)
}

func aloneFrom(ctx context.Context) *aloneMark {
	m, _ := ctx.Value(aloneKey{}).(*aloneMark)
	return m
}

// sealed is the querier of a transaction that committed with its one statement.
type sealed struct{}

func (sealed) ExecContext(context.Context, string, ...any) (sql.Result, error) { return nil, errSealed }
func (sealed) QueryContext(context.Context, string, ...any) (*sql.Rows, error) { return nil, errSealed }

// Alone counts the transactions that committed with their one statement since Open (Fold.Last;
// for tests).
func (s *Store) Alone() int64 { return s.alone.Load() }

// Sealed reports whether e's transaction already committed with its one statement (Fold.Last).
func (e *Exec) Sealed() bool {
	_, ok := e.q.(sealed)
	return ok
}
