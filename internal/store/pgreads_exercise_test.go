package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// exerciseReadGroups is Exercise's part on reads by id that go in groups (pgreads.go):
// PostgreSQL's; on SQLite the reads are plain ones.
func exerciseReadGroups(t *testing.T, newStore func(t *testing.T) (*store.Store, string)) {
	// Many reads by id at once share round trips (pgreads.go); each hears its own record, or
	// that there is none.
	t.Run("ReadsByIDInGroupsAnswerEachItsOwn", func(t *testing.T) {
		st, owner := newStore(t)
		ctx := context.Background()
		recs := make([]*store.Record, 40)
		for i := range recs {
			recs[i] = item(owner)
			recs[i].Values[fS] = fmt.Sprintf("r%d", i)
			require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", recs[i]) }))
		}
		for burst := 0; burst < 10 && (burst < 2 || st.ReadsGrouped() == 0); burst++ {
			var wg sync.WaitGroup
			errs := make([]error, 200)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = readOwn(ctx, st, recs, i)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "read %d", i)
			}
		}
		if st.Dialect() == "postgres" {
			require.Positive(t, st.ReadsGrouped(), "reads at once went in groups")
		}
	})

	// A read that waits for a lock (a migration's ALTER TABLE holds its table) does not hold
	// up a read of another table sent in its group: that one is answered within its deadline,
	// while the lock is held for two seconds.
	t.Run("AReadWaitingForALockHoldsUpNoOther", func(t *testing.T) {
		st, owner, it := storeWithItem(t, newStore)
		if st.Dialect() != "postgres" {
			return
		}
		ctx := context.Background()
		lock, err := st.Pool().Acquire(ctx)
		require.NoError(t, err)
		_, err = lock.Exec(ctx, "BEGIN; LOCK TABLE owners IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 5 { // two go alone, the others wait: the read of items joins their group
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, cancel := context.WithTimeout(ctx, 4*time.Second)
				defer cancel()
				_, _ = st.Reader().Get(c, "owners", owner, nil)
			}()
			time.Sleep(2 * time.Millisecond)
		}
		c, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		start := time.Now()
		got, err := st.Reader().Get(c, "items", it.ID, nil)
		took := time.Since(start)
		cancel()
		time.Sleep(2*time.Second - took)
		_, lerr := lock.Exec(ctx, "COMMIT")
		lock.Release()
		require.NoError(t, lerr)
		wg.Wait()
		require.NoError(t, err)
		require.Equal(t, it.ID, got.ID)
		require.Less(t, took, 1200*time.Millisecond)
	})

	// With every connection of the pool taken, reads end at their own deadline, in a group as
	// alone: none is answered late.
	t.Run("ReadsEndAtTheirDeadlineWhenThePoolIsBusy", func(t *testing.T) {
		st, _, it := storeWithItem(t, newStore)
		if st.Dialect() != "postgres" {
			return
		}
		ctx := context.Background()
		held := takeEveryConnection(t, st.Pool())
		errs, took := make([]error, 8), make([]time.Duration, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				start := time.Now()
				_, errs[i] = st.Reader().Get(c, "items", it.ID, nil)
				took[i] = time.Since(start)
			}()
			time.Sleep(3 * time.Millisecond)
		}
		wg.Wait()
		for _, c := range held {
			c.Release()
		}
		for i, err := range errs {
			require.ErrorIs(t, err, store.ErrTimeout, "read %d", i)
			require.Less(t, took[i], 600*time.Millisecond, "read %d", i)
		}
		_, err := st.Reader().Get(ctx, "items", it.ID, nil)
		require.NoError(t, err)
	})
}

// storeWithItem is a new store with one item of owner's.
func storeWithItem(t *testing.T, newStore func(t *testing.T) (*store.Store, string)) (*store.Store, string, *store.Record) {
	st, owner := newStore(t)
	ctx := context.Background()
	it := item(owner)
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", it) }))
	return st, owner, it
}

// takeEveryConnection acquires every connection pool may open, and answers them.
func takeEveryConnection(t *testing.T, pool *pgxpool.Pool) []*pgxpool.Conn {
	var held []*pgxpool.Conn
	for int(pool.Stat().AcquiredConns()) < int(pool.Config().MaxConns) {
		c, err := pool.Acquire(context.Background())
		require.NoError(t, err)
		held = append(held, c)
	}
	return held
}

// readOwn is read i of a burst: every fifth of a record that does not exist, the others of
// one of recs, which must come back as written.
func readOwn(ctx context.Context, st *store.Store, recs []*store.Record, i int) error {
	if i%5 == 0 {
		if _, err := st.Reader().Get(ctx, "items", newID(), nil); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("a record that does not exist: %v", err)
		}
		return nil
	}
	want := recs[i%len(recs)]
	got, err := st.Reader().Get(ctx, "items", want.ID, nil)
	if err != nil {
		return err
	}
	if got.ID != want.ID || got.Values[fS] != want.Values[fS] {
		return fmt.Errorf("read %s, got %s (%v)", want.ID, got.ID, got.Values[fS])
	}
	return nil
}

// goFailingWrite is write i of AMemberFailingInGoHarmsNoOther: the 4th of every 9 has a
// destination its row cannot be scanned into, the 5th a value pgx cannot encode.
func goFailingWrite(ctx context.Context, st *store.Store, rec *store.Record, i int) error {
	var one, two int64
	dest := []any{&one}
	switch i % 9 {
	case 4:
		dest = append(dest, &two)
	case 5:
		rec.Values[fS] = struct{ X chan int }{}
	}
	return st.InTx(ctx, func(tx *store.Exec) error {
		return tx.InsertScanning(ctx, "items", rec, store.Fold{Then: "SELECT 7 FROM kiln_row", Dest: dest, Last: true})
	})
}
