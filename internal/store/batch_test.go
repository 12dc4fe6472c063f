package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// openBatchTest opens a SQLite store with a table t (id unique) to write to.
func openBatchTest(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a lost turn fails, not hangs
	t.Cleanup(cancel)
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "db.sqlite")}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecDDL(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT)")
	}))
	return st, ctx
}

func insert(ctx context.Context, tx *store.Exec, id int) error {
	return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", id)
}

// ids reads the ids in t.
func ids(t *testing.T, ctx context.Context, st *store.Store) map[int]bool {
	rows, err := st.Reader().QueryRaw(ctx, "SELECT id FROM t")
	require.NoError(t, err)
	defer rows.Close()
	got := map[int]bool{}
	for rows.Next() {
		var id int
		require.NoError(t, rows.Scan(&id))
		got[id] = true
	}
	require.NoError(t, rows.Err())
	return got
}

// holdWriter runs a write of row id that, on its first run, keeps the writer's turn until n
// others wait for it, so that they share its transaction; it returns once the write is
// running, with the write's outcome to come and the count of its runs.
func holdWriter(t *testing.T, ctx context.Context, st *store.Store, n int, id int) (<-chan error, *atomic.Int32) {
	runs := new(atomic.Int32)
	done := make(chan error, 1)
	go func() {
		done <- st.InTx(ctx, func(tx *store.Exec) error {
			if runs.Add(1) == 1 {
				for st.QueuedWriters() < n {
					time.Sleep(time.Millisecond)
				}
			}
			return insert(ctx, tx, id)
		})
	}()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	return done, runs
}

// Writes that wait for the writer together share a transaction, and each is what it would be
// alone: the failing ones leave nothing, the others all commit, and none hears back before
// its commit (its row is visible to another connection when InTx returns).
func TestBatchedWritesFailAlone(t *testing.T) {
	st, ctx := openBatchTest(t)
	const n = 20
	held, _ := holdWriter(t, ctx, st, n, 1000)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = st.InTx(ctx, func(tx *store.Exec) error {
				if err := insert(ctx, tx, i); err != nil {
					return err
				}
				if err := tx.ExecRaw(ctx, "UPDATE t SET note = ? WHERE id = ?", "x", i); err != nil {
					return err
				}
				if i%3 == 0 {
					return fmt.Errorf("write %d refuses", i)
				}
				if i%3 == 1 {
					return insert(ctx, tx, 1000) // taken by the held write: a constraint error
				}
				if ids(t, ctx, st)[i] {
					return errors.New("another connection saw the write before its commit")
				}
				return nil
			})
			if errs[i] == nil && !ids(t, ctx, st)[i] {
				errs[i] = fmt.Errorf("write %d returned before its row was visible", i)
			}
		})
	}
	wg.Wait()
	require.NoError(t, <-held)
	got := ids(t, ctx, st)
	require.True(t, got[1000])
	for i := range n {
		switch i % 3 {
		case 0, 1:
			require.Error(t, errs[i], "write %d", i)
			require.False(t, got[i], "a failed write left row %d", i)
		default:
			require.NoError(t, errs[i], "write %d", i)
			require.True(t, got[i], "row %d of a committed write is missing", i)
		}
	}
	var ce *store.ConstraintError
	require.ErrorAs(t, errs[1], &ce)
}

// A write that panics in a shared transaction leaves nothing and takes no other write with it.
func TestBatchedWritePanicsAlone(t *testing.T) {
	st, ctx := openBatchTest(t)
	held, _ := holdWriter(t, ctx, st, 2, 1)
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = st.InTx(ctx, func(tx *store.Exec) error {
			if err := insert(ctx, tx, 2); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	for st.QueuedWriters() < 1 {
		time.Sleep(time.Millisecond)
	}
	other := make(chan error, 1)
	go func() { other <- st.InTx(ctx, func(tx *store.Exec) error { return insert(ctx, tx, 3) }) }()
	require.NoError(t, <-held)
	require.Equal(t, "boom", <-panicked)
	require.NoError(t, <-other)
	require.Equal(t, map[int]bool{1: true, 3: true}, ids(t, ctx, st))
}

// Writes whose contexts end at random points — while waiting for the turn, as it reaches
// them, during their statements — never wedge the writer and never half happen: a write that
// returned nil is there, one that returned an error is not.
func TestBatchedWritesWithEndingContexts(t *testing.T) {
	st, ctx := openBatchTest(t)
	const n = 400
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, time.Duration(rand.IntN(40000))*time.Microsecond)
			defer cancel()
			errs[i] = st.InTx(wctx, func(tx *store.Exec) error {
				for j := range 3 {
					if err := tx.ExecRaw(wctx, "INSERT INTO t (id, note) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET note = excluded.note", i, fmt.Sprint(j)); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	wg.Wait()
	got := ids(t, ctx, st)
	var ok int
	for i := range n {
		if errs[i] == nil {
			ok++
		}
		require.Equal(t, errs[i] == nil, got[i], "write %d: %v", i, errs[i])
	}
	t.Logf("%d of %d writes committed", ok, n)
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return insert(ctx, tx, n) }), "the writer is free again")
}

// When SQLite rolls a whole transaction back (an I/O error would; INSERT OR ROLLBACK does it
// on demand), the writes that ran before in the same batch and wait for its commit run again
// (InTx) and commit; so does a write whose own savepoint vanished although it reported success.
func TestWholeTransactionRolledBackInBatch(t *testing.T) {
	st, ctx := openBatchTest(t)
	st.KeepBatchesOpen(10 * time.Second) // the second write must join the first's transaction, however loaded the machine
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return insert(ctx, tx, 1000) }))
	first, firstRuns := holdWriter(t, ctx, st, 1, 1)
	var swallowRuns atomic.Int32
	// Joins the first write's transaction, rolls it back as a whole, and says nothing of it
	// (on its first run only).
	err := st.InTx(ctx, func(tx *store.Exec) error {
		if err := insert(ctx, tx, 2); err != nil {
			return err
		}
		if swallowRuns.Add(1) == 1 {
			_ = tx.ExecRaw(ctx, "INSERT OR ROLLBACK INTO t (id) VALUES (1000)")
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, <-first)
	require.Equal(t, map[int]bool{1: true, 2: true, 1000: true}, ids(t, ctx, st))
	require.Equal(t, int32(2), firstRuns.Load(), "the first write ran again")
	require.Equal(t, int32(2), swallowRuns.Load())
}

// A write whose context ends in the middle of its statement while other writes share its
// transaction is not interrupted (SQLite would roll back theirs with it): the statement runs
// to its end, and the others commit having run once.
func TestEndingContextInSharedBatchInterruptsNothing(t *testing.T) {
	st, ctx := openBatchTest(t)
	first, runs := holdWriter(t, ctx, st, 1, 1)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	err := st.InTx(sctx, func(tx *store.Exec) error { return tx.ExecRaw(sctx, longInsert(20000)) })
	require.NoError(t, <-first)
	require.Equal(t, int32(1), runs.Load())
	got := ids(t, ctx, st)
	require.True(t, got[1])
	require.Equal(t, err == nil, got[10], "err %v", err)
}

// Alone in its transaction, a write's statement is interrupted when its context ends, as
// before batching: an error, nothing left, the writer free.
func TestLoneWriteIsInterrupted(t *testing.T) {
	st, ctx := openBatchTest(t)
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := st.InTx(sctx, func(tx *store.Exec) error { return tx.ExecRaw(sctx, longInsert(100000000)) })
	require.Error(t, err)
	require.Less(t, time.Since(start), 20*time.Second)
	require.Empty(t, ids(t, ctx, st))
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return insert(ctx, tx, 1) }))
}

// A stream of failing writes keeps the writer's queue full; a write that succeeded among them
// is still answered soon (a transaction closes after maxBatch turns or 10 ms, failed turns
// counted), and the job queue's pool gets the connection.
func TestFailingStreamDoesNotHoldABatchOpen(t *testing.T) {
	st, ctx := openBatchTest(t)
	stop := make(chan struct{})
	var spam sync.WaitGroup
	for range 4 {
		spam.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = st.InTx(ctx, func(tx *store.Exec) error {
					_ = insert(ctx, tx, 5000)
					return errors.New("refused")
				})
			}
		})
	}
	defer func() { close(stop); spam.Wait() }()
	time.Sleep(20 * time.Millisecond)
	for i := range 20 {
		start := time.Now()
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return insert(ctx, tx, i) }))
		require.Less(t, time.Since(start), 2*time.Second, "write %d", i)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := st.Writer().ExecContext(pctx, "SELECT 1")
	require.NoError(t, err, "the writer's pool got its connection")
	require.Len(t, ids(t, ctx, st), 20)
}

// longInsert inserts the ids 10 … 10+n-1 in one statement.
func longInsert(n int) string {
	return fmt.Sprintf("INSERT INTO t (id) WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < %d) SELECT i FROM n", 10+n-1)
}
