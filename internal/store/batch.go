package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A transaction closes (commits) once it has taken maxBatch turns or has been open for
// maxBatchAge, even while more writes wait: those bound how long the first write of a batch
// waits for its answer, and how long the job queue, which shares the writer's pool, waits for
// the connection.
const (
	maxBatch    = 32
	maxBatchAge = 10 * time.Millisecond
)

// errBatchLost says the SQLite transaction a write ran in was rolled back as a whole (an
// I/O or out-of-memory error in another write in it, say) before it committed: nothing of
// the write took effect, and InTx runs it again.
var errBatchLost = errors.New("store: the shared write transaction was rolled back")

// batcher commits SQLite's write transactions in groups. SQLite has one writer, so writes
// already run one after the other on its single connection; what each paid on its own was
// BEGIN and, above all, the commit: every page it changed written to the WAL, and the pages
// all writes share (the event log's last leaf, its AUTOINCREMENT counter, the hot index
// pages) once per write. Here a write that finds others waiting for the writer leaves the
// transaction open for them: each runs inside a savepoint of its own (a failing one rolls
// back to it and affects no other), and the last in the queue (or the maxBatch-th turn, or
// the first after maxBatchAge) commits for all. Every write waits for that outcome: one that
// succeeded is durable when it is answered, as before; one that failed is answered with its
// own error only once the writes before it (whose rows it may have seen) committed.
//
// While other writes wait on the transaction, a statement runs to its end even when its
// caller's context ends (checked before it starts): SQLite answers an interrupted write by
// rolling back the whole transaction, which would undo the others.
//
// The turn to use the transaction passes from holder to waiter in queue order (a mutex
// whose waiting respects the caller's context).
type batcher struct {
	db        *sql.DB
	interpret func(error) error
	shared    *atomic.Bool  // read by the writer's statements (keptStmt)
	age       time.Duration // how long a transaction stays open for more writes: maxBatchAge (tests set more)

	mu    sync.Mutex
	busy  bool            // someone holds the turn
	queue []chan struct{} // waiting for the turn, closed when it is theirs

	// Used only by the holder of the turn.
	conn    *sql.Conn
	tx      *sql.Tx
	began   time.Time
	turns   int
	members []chan error // writes in tx, waiting for its outcome
}

// run runs fn as one write transaction of a batch and returns once that batch's outcome is
// known.
func (b *batcher) run(ctx context.Context, s *Store, fn func(tx *Exec) error) error {
	if err := b.acquire(ctx); err != nil {
		return b.interpret(err)
	}
	ex, done, err := b.turn(ctx, s, fn)
	if done == nil {
		return err
	}
	if outcome := <-done; outcome != nil {
		return outcome
	}
	if err != nil {
		return err
	}
	for _, f := range ex.afterCommit {
		f()
	}
	return nil
}

// turn runs fn while holding the turn and passes the turn on, also when fn panics.
func (b *batcher) turn(ctx context.Context, s *Store, fn func(tx *Exec) error) (*Exec, chan error, error) {
	defer b.endTurn()
	return b.member(ctx, s, fn)
}

// acquire waits for the turn. A caller that gives up is taken off the queue; if the turn
// reached it as it gave up, it passes the turn on.
func (b *batcher) acquire(ctx context.Context) error {
	b.mu.Lock()
	if !b.busy {
		b.busy = true
		b.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if i := slices.Index(b.queue, w); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
		b.mu.Unlock()
		return ctx.Err()
	}
	b.mu.Unlock()
	b.endTurn()
	return ctx.Err()
}

// member runs fn in a savepoint of the open transaction (beginning one if none is open) and
// joins the writes waiting for its outcome; done is nil when fn's error is final already
// (nothing ran, or the transaction was lost with this write's own context ended).
func (b *batcher) member(ctx context.Context, s *Store, fn func(tx *Exec) error) (ex *Exec, done chan error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, b.interpret(err)
	}
	if b.tx == nil {
		if err := b.begin(ctx); err != nil {
			return nil, nil, b.interpret(err)
		}
	}
	b.turns++
	b.shared.Store(len(b.members) > 0)
	if err := b.exec("SAVEPOINT kiln_write"); err != nil {
		return nil, nil, b.lose(err)
	}
	ex = &Exec{s: s, q: b.tx, tx: b.tx, db: b.db}
	finished := false
	defer func() {
		if !finished { // fn panicked
			_ = b.undo()
		}
	}()
	err = fn(ex)
	finished = true
	if err != nil {
		if lost := b.undo(); lost != nil {
			if ctx.Err() != nil {
				return nil, nil, err
			}
			return nil, nil, lost
		}
	} else if rerr := b.exec("RELEASE kiln_write"); rerr != nil {
		return nil, nil, b.lose(rerr)
	}
	done = make(chan error, 1)
	b.members = append(b.members, done)
	return ex, done, err
}

// begin takes the writer connection (waiting for it as long as ctx allows) and begins the
// batch's transaction on it. The transaction is not bound to ctx: database/sql would roll it
// back, with the other writes in it, when this caller's context ends.
func (b *batcher) begin(ctx context.Context) error {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(context.Background(), nil)
	if err != nil {
		_ = conn.Close()
		return err
	}
	b.conn, b.tx, b.began, b.turns = conn, tx, time.Now(), 0
	return nil
}

func (b *batcher) exec(stmt string) error {
	_, err := b.tx.ExecContext(context.Background(), stmt)
	return err
}

// undo rolls the transaction back to the running write's savepoint. When that fails the
// transaction itself is gone (SQLite rolls a whole transaction back on an interrupted write
// or an I/O error): the writes waiting for its commit are told to run again, and so is this
// one (the error it failed with may stem from rows that are gone now).
func (b *batcher) undo() error {
	if err := b.exec("ROLLBACK TO kiln_write"); err != nil {
		return b.lose(err)
	}
	if err := b.exec("RELEASE kiln_write"); err != nil {
		return b.lose(err)
	}
	return nil
}

// lose ends a transaction that can no longer commit and tells its waiting writes so.
func (b *batcher) lose(cause error) error {
	err := fmt.Errorf("%w: %w (%v)", ErrUnavailable, errBatchLost, cause)
	_ = b.tx.Rollback()
	b.finish(err)
	return err
}

// endTurn commits the open transaction unless another write waits to join it, then passes
// the turn to the next in the queue or frees it.
func (b *batcher) endTurn() {
	for {
		b.mu.Lock()
		if b.tx == nil || (len(b.queue) > 0 && b.turns < maxBatch && time.Since(b.began) < b.age) {
			if len(b.queue) > 0 {
				close(b.queue[0])
				b.queue = b.queue[1:]
			} else {
				b.busy = false
			}
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.finish(b.interpret(b.tx.Commit()))
	}
}

// finish returns the connection to the pool and tells every write in the ended transaction
// its outcome.
func (b *batcher) finish(err error) {
	b.shared.Store(false)
	_ = b.conn.Close()
	b.conn, b.tx = nil, nil
	for _, done := range b.members {
		done <- err
	}
	b.members = b.members[:0]
}
