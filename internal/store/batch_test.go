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

// holdWriter runs a write that keeps the writer's turn until n others wait for it, so that
// they share one transaction; it returns once the held write is running.
func holdWriter(t *testing.T, ctx context.Context, st *store.Store, n int, id int) <-chan error {
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		once := sync.Once{}
		done <- st.InTx(ctx, func(tx *store.Exec) error {
			once.Do(func() { close(started) })
			for st.QueuedWriters() < n {
				time.Sleep(time.Millisecond)
			}
			return insert(ctx, tx, id)
		})
	}()
	<-started
	return done
}

// Writes that wait for the writer together share a transaction, and each is what it would be
// alone: the failing ones leave nothing, the others all commit, and none hears back before
// its commit (its row is visible to another connection when InTx returns).
func TestBatchedWritesFailAlone(t *testing.T) {
	st, ctx := openBatchTest(t)
	const n = 20
	held := holdWriter(t, ctx, st, n, 1000)
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
				if got := ids(t, ctx, st); !got[1000] {
					// another connection does not see the batch before it commits
					return nil
				}
				return errors.New("saw an uncommitted write")
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
	held := holdWriter(t, ctx, st, 2, 1)
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

// When a statement is interrupted (its context ended) SQLite may roll the whole transaction
// back, with the writes that ran before it in the same batch and wait for its commit: those
// run again (InTx) and commit; the interrupted write leaves nothing.
func TestInterruptedWriteInBatch(t *testing.T) {
	st, ctx := openBatchTest(t)
	var runs atomic.Int32
	first := make(chan error, 1)
	go func() {
		first <- st.InTx(ctx, func(tx *store.Exec) error {
			if runs.Add(1) == 1 {
				for st.QueuedWriters() < 1 {
					time.Sleep(time.Millisecond)
				}
			}
			return insert(ctx, tx, 1)
		})
	}()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := st.InTx(sctx, func(tx *store.Exec) error {
		// a write long enough to be interrupted
		return tx.ExecRaw(sctx, `INSERT INTO t (id) WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) SELECT i FROM n`)
	})
	require.Error(t, err)
	require.NoError(t, <-first)
	require.Equal(t, map[int]bool{1: true}, ids(t, ctx, st))
	t.Logf("the first write ran %d times", runs.Load())
}
