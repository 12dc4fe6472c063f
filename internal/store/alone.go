package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// A create or update that writes nothing but its record and its event — one statement on
// PostgreSQL (InsertScanning, UpdateScanning) — paid two more messages for its transaction:
// BEGIN, sent with the statement (beginConn), and COMMIT, a round trip of its own. When that
// statement is the transaction's first and the caller runs nothing after it (Fold.Last),
// nothing needs the transaction: the statement runs by itself and PostgreSQL commits it as it
// ends (an implicit transaction, as atomic as the explicit one). The Exec is then sealed: the transaction is over, any statement
// after it fails, and its Commit sends nothing. A statement that wrote nothing (a Fold.Guard
// that did not hold) or failed leaves the transaction as it was, not begun.

// ErrUnwritten is the answer of InsertScanning and UpdateScanning when their write's condition
// did not hold (Fold.Guard; for an update also the version read): nothing was written.
var ErrUnwritten = errors.New("store: the write's condition did not hold; nothing was written")

// errSealed refuses a statement on a transaction that already committed with its one statement.
var errSealed = errors.New("store: the transaction committed with its one statement; nothing may follow it")

// Fold is the statement InsertScanning and UpdateScanning run on a record's write, in the same
// statement.
type Fold struct {
	// Then reads kiln_row (the write's one row of one column), with ? placeholders for Args;
	// its one row is scanned into Dest.
	Then string
	Args []any
	Dest []any
	// Guard, when set, is a condition (fixed SQL with ? placeholders for GuardArgs) the write
	// is made under: when it does not hold nothing is written and the answer is ErrUnwritten.
	Guard     string
	GuardArgs []any
	// Last says the caller runs nothing more on the transaction once the statement wrote: on
	// PostgreSQL a statement that is the transaction's first then runs and commits by itself.
	Last bool
}

// sealed is the querier of a transaction that committed with its one statement.
type sealed struct{}

func (sealed) ExecContext(context.Context, string, ...any) (sql.Result, error) { return nil, errSealed }
func (sealed) QueryContext(context.Context, string, ...any) (*sql.Rows, error) { return nil, errSealed }

// Alone counts the transactions that committed with their one statement since Open (Fold.Last;
// for tests).
func (s *Store) Alone() int64 { return s.alone.Load() }

// Grouped counts the statements alone (Alone) that committed in a group of them since Open
// (pggroup.go; for tests and benchmarks).
func (s *Store) Grouped() int64 { return s.grouped.Load() }

// Sealed reports whether e's transaction already committed with its one statement (Fold.Last).
func (e *Exec) Sealed() bool {
	_, ok := e.q.(sealed)
	return ok
}

// A statement whose context ends is stopped the way pgx does by default: a deadline on the
// connection fails the read at once, and the connection is closed, sending the server a cancel
// request on the way out; the caller has its error before the server stopped anything, and a
// transaction that was open rolls back. A statement alone commits as it ends on the server:
// finishing between the caller's error and the cancel (once a lock it waited for is free, say),
// it commits after the caller heard it failed. Such a statement is cancelled first and its
// answer awaited (pgx's cancel-request handler), so the caller hears what happened to it:
// cancelled, or committed when the cancel came too late.

// aloneCancelGrace is how long a statement alone may take to answer once it was cancelled,
// before its connection is closed as any other's (its outcome unknown then).
const aloneCancelGrace = 3 * time.Second

// aloneWatch is a connection's context watcher: pgx's default one, or a cancel request while
// the connection runs a statement alone (beginConn.alone).
type aloneWatch struct {
	bc       *beginConn
	deadline ctxwatch.Handler
	cancel   ctxwatch.Handler
	used     ctxwatch.Handler
}

func newAloneWatch(pc *pgconn.PgConn) ctxwatch.Handler {
	w := &aloneWatch{deadline: &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()},
		cancel: &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: aloneCancelGrace}}
	w.bc, _ = pc.Conn().(*beginConn)
	return w
}

func (w *aloneWatch) HandleCancel(ctx context.Context) {
	w.used = w.deadline
	if w.bc != nil && w.bc.alone.Load() {
		w.used = w.cancel
	}
	w.used.HandleCancel(ctx)
}

func (w *aloneWatch) HandleUnwatchAfterCancel() { w.used.HandleUnwatchAfterCancel() }
