package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// exerciseAlone is Exercise's part on a write's statement that is its whole transaction
// (alone.go): PostgreSQL's; SQLite skips it.
func exerciseAlone(t *testing.T, newStore func(t *testing.T) (*store.Store, string)) {
	ctx := context.Background()
	// A guarded insert writes only where its guard holds; a last one that is its transaction's
	// first statement commits by itself (PostgreSQL: no BEGIN, no COMMIT), and nothing may follow.
	t.Run("InsertScanningGuardedAndLast", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		var one int64
		fold := func(guard bool) store.Fold {
			return store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&one},
				Guard: "? = 'yes'", GuardArgs: []any{map[bool]string{true: "yes", false: "no"}[guard]}, Last: true}
		}
		before := st.Alone()
		a := item(owner)
		err := st.InTx(ctx, func(tx *store.Exec) error {
			require.NoError(t, tx.InsertScanning(ctx, "items", a, fold(true)))
			require.True(t, tx.Sealed())
			require.Error(t, tx.ExecRaw(ctx, "SELECT 1"), "nothing runs after the last statement")
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, int64(1), one)
		require.Equal(t, before+1, st.Alone(), "the first statement ran by itself")
		require.Equal(t, int64(1), mustCount(t, st, "items", nil))

		// A guard that does not hold writes nothing, and the transaction goes on, begun by its
		// next statement: rolled back, that one leaves nothing either.
		b, c := item(owner), item(owner)
		err = st.InTx(ctx, func(tx *store.Exec) error {
			require.ErrorIs(t, tx.InsertScanning(ctx, "items", b, fold(false)), store.ErrUnwritten)
			require.False(t, tx.Sealed())
			require.NoError(t, tx.Insert(ctx, "items", c))
			return errors.New("roll back")
		})
		require.EqualError(t, err, "roll back")
		require.Equal(t, int64(1), mustCount(t, st, "items", nil))

		// After another statement the last one runs inside the transaction, which still ends
		// with its Commit or Rollback.
		d := item(owner)
		err = st.InTx(ctx, func(tx *store.Exec) error {
			require.NoError(t, tx.Insert(ctx, "items", c))
			require.NoError(t, tx.InsertScanning(ctx, "items", d, fold(true)))
			require.False(t, tx.Sealed())
			return errors.New("roll back")
		})
		require.EqualError(t, err, "roll back")
		require.Equal(t, int64(1), mustCount(t, st, "items", nil))

		// A last statement that fails wrote nothing and ended nothing.
		e := item(owner)
		e.ID = a.ID
		err = st.InTx(ctx, func(tx *store.Exec) error {
			err := tx.InsertScanning(ctx, "items", e, fold(true))
			require.False(t, tx.Sealed())
			return err
		})
		require.ErrorIs(t, err, store.ErrConflict)
		require.Equal(t, before+1, st.Alone())
		require.Equal(t, int64(1), mustCount(t, st, "items", nil))
	})

	// A statement alone whose deadline passes is cancelled on the server, not left running to
	// commit after the caller heard it failed: here it waits for a row of the same unique value
	// that another transaction holds, and which that transaction then rolls back. (Both ways
	// of stopping it, aloneWatch's and pgx's own, cancel it; they differ in when the caller
	// hears: after the server answered the cancel, or before.)
	t.Run("InsertScanningLastCancelledOnTheServer", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		release := holdUnique(t, st, owner, errors.New("roll back"))
		a := item(owner)
		a.Values[fS] = "held"
		var one int64
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		err := st.InTx(tctx, func(tx *store.Exec) error {
			return tx.InsertScanning(tctx, "items", a, store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&one}, Last: true})
		})
		require.ErrorIs(t, err, store.ErrTimeout)
		require.EqualError(t, release(), "roll back")
		time.Sleep(300 * time.Millisecond) // a statement left running would commit now
		_, err = st.Reader().Get(ctx, "items", a.ID, nil)
		require.ErrorIs(t, err, store.ErrNotFound, "the cancelled statement committed nothing")
		require.NoError(t, st.Ping(ctx))
	})

	// An update with a statement after it is made only where the version is still the one read.
	t.Run("UpdateScanningOnlyOverTheVersionRead", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		a := item(owner)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", a) }))
		read, err := st.Reader().Get(ctx, "items", a.ID, nil)
		require.NoError(t, err)
		update := func(old *store.Record, s string) error {
			rec := *old
			rec.Values = append([]any(nil), old.Values...)
			rec.Values[fS] = s
			var n int64
			return st.InTx(ctx, func(tx *store.Exec) error {
				return tx.UpdateScanning(ctx, "items", &rec, old, store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&n}, Last: true})
			})
		}
		require.NoError(t, update(read, "first"))
		require.ErrorIs(t, update(read, "second"), store.ErrUnwritten, "the version read is gone")
		back, err := st.Reader().Get(ctx, "items", a.ID, nil)
		require.NoError(t, err)
		require.Equal(t, "first", back.Values[fS])
		require.Equal(t, read.Version+1, back.Version)
		require.NoError(t, update(back, "third"))

		// A context that ends after the statement alone committed does not make it a failure.
		back, err = st.Reader().Get(ctx, "items", a.ID, nil)
		require.NoError(t, err)
		rec := *back
		rec.Values = append([]any(nil), back.Values...)
		rec.Values[fS] = "fourth"
		cctx, cancel := context.WithCancel(ctx)
		var n int64
		err = st.InTx(cctx, func(tx *store.Exec) error {
			err := tx.UpdateScanning(cctx, "items", &rec, back, store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&n}, Last: true})
			cancel()
			return err
		})
		require.NoError(t, err, "the write committed")
		back, err = st.Reader().Get(ctx, "items", a.ID, nil)
		require.NoError(t, err)
		require.Equal(t, "fourth", back.Values[fS])
	})

	// A write alone whose context ends at any moment is answered as it ended: stored when it
	// says it committed, absent when it says it failed. Contexts are cancelled at random moments
	// across the statement's time, eight writes at once (so some go in groups).
	t.Run("AWriteAloneIsAnsweredAsItEnded", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			return
		}
		answered := cancelledWrites(t, st, owner, 400)
		stored, failed := 0, 0
		for id, err := range answered {
			_, gerr := st.Reader().Get(ctx, "items", id, nil)
			if err == nil {
				stored++
				require.NoError(t, gerr, "write %s was answered as committed", id)
				continue
			}
			failed++
			require.ErrorIs(t, gerr, store.ErrNotFound, "write %s was answered %v, yet it is stored", id, err)
		}
		t.Logf("%d answered stored, %d answered failed", stored, failed)
	})
}

// cancelledWrites makes n inserts alone, eight at a time, each under a context cancelled after
// a random pause of up to 3 ms, and returns each one's answer by id.
func cancelledWrites(t *testing.T, st *store.Store, owner string, n int) map[string]error {
	ctx := context.Background()
	var mu sync.Mutex
	answered := make(map[string]error, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				a := item(owner)
				a.Values[fS] = fmt.Sprintf("cancelled-%d", i)
				cctx, cancel := context.WithCancel(ctx)
				timer := time.AfterFunc(time.Duration(rand.IntN(3000))*time.Microsecond, cancel)
				var one int64
				err := st.InTx(cctx, func(tx *store.Exec) error {
					return tx.InsertScanning(cctx, "items", a, store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&one}, Last: true})
				})
				timer.Stop()
				cancel()
				mu.Lock()
				answered[a.ID] = err
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	require.NoError(t, st.Ping(ctx))
	return answered
}

// refusedOnSQLite checks that SQLite, whose statements cannot write in a WITH clause, refuses
// both folds and writes nothing.
func refusedOnSQLite(t *testing.T, st *store.Store, owner string) {
	ctx := context.Background()
	a := item(owner)
	var one int64
	f := store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&one}, Last: true}
	require.Error(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.InsertScanning(ctx, "items", a, f) }))
	require.Error(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.UpdateScanning(ctx, "items", a, a, f) }))
	require.Equal(t, int64(0), mustCount(t, st, "items", nil))
}
