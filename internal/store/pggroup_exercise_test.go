package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// exerciseGroups is Exercise's part on writes alone that commit in groups (pggroup.go):
// PostgreSQL's; SQLite refuses the statements.
func exerciseGroups(t *testing.T, newStore func(t *testing.T) (*store.Store, string)) {
	// Many writes alone at once share transactions; each still hears its own outcome: a
	// unique clash fails alone, a guard that does not hold writes nothing, two updates of one
	// version make one write; none is answered before its row is visible on another
	// connection, and what failed left nothing.
	t.Run("WritesAloneCommitInGroupsAndFailAlone", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		ctx := context.Background()
		taken := item(owner)
		taken.Values[fS] = "taken"
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", taken) }))
		for burst := 0; burst < 10 && (burst < 2 || st.Grouped() == 0); burst++ {
			groupBurst(t, st, owner, burst)
		}
		require.Positive(t, st.Grouped(), "writes alone at once committed in groups")
	})

	// A statement alone that waits for a lock stops holding up the others after groupSlow:
	// writes of other rows commit while it still waits.
	t.Run("AWaitingWriteHoldsUpNoOther", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		ctx := context.Background()
		held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- st.InTx(ctx, func(tx *store.Exec) error {
				blocker := item(owner)
				blocker.Values[fS] = "held"
				if err := tx.Insert(ctx, "items", blocker); err != nil {
					return err
				}
				close(held)
				<-release
				return errors.New("roll back")
			})
		}()
		<-held
		var waiting sync.WaitGroup
		waitErrs := make([]error, 2)
		for i := range waitErrs { // two writes waiting for the lock: as many as go at once
			waiting.Add(1)
			go func() {
				defer waiting.Done()
				a := item(owner)
				a.Values[fS] = "held"
				waitErrs[i] = insertAlone(ctx, st, a, true)
			}()
		}
		time.Sleep(100 * time.Millisecond)
		others := make(chan error, 20)
		for range cap(others) {
			go func() { others <- insertAlone(ctx, st, item(owner), true) }()
		}
		timeout := time.After(10 * time.Second)
		for range cap(others) {
			select {
			case err := <-others:
				require.NoError(t, err)
			case <-timeout:
				close(release)
				t.Fatal("writes of other rows waited for a lock they do not need")
			}
		}
		close(release)
		require.EqualError(t, <-done, "roll back")
		waiting.Wait()
		var wrote int
		for _, err := range waitErrs {
			if err == nil {
				wrote++
			} else {
				require.ErrorIs(t, err, store.ErrConflict)
			}
		}
		require.Equal(t, 1, wrote, "one of the two writes of one unique value")
		require.Equal(t, int64(21), mustCount(t, st, "items", nil))
	})
}

// insertAlone inserts rec as its transaction's one statement, under a guard that holds or not.
func insertAlone(ctx context.Context, st *store.Store, rec *store.Record, guard bool) error {
	var one int64
	yes := map[bool]string{true: "yes", false: "no"}[guard]
	err := st.InTx(ctx, func(tx *store.Exec) error {
		return tx.InsertScanning(ctx, "items", rec, store.Fold{Then: "SELECT 7 FROM kiln_row", Dest: []any{&one},
			Guard: "? = 'yes'", GuardArgs: []any{yes}, Last: true})
	})
	if err == nil && one != 7 {
		return fmt.Errorf("the statement's row was not scanned: %d", one)
	}
	return err
}

// groupBurst sends 60 writes alone at once: inserts, a fifth of them clashing on a unique value,
// a fifth under a guard that does not hold, and pairs of updates of one version of a record.
func groupBurst(t *testing.T, st *store.Store, owner string, burst int) {
	ctx := context.Background()
	pairs := make([]*store.Record, 5)
	for i := range pairs {
		pairs[i] = item(owner)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", pairs[i]) }))
	}
	const n = 60
	recs, errs := make([]*store.Record, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = burstWrite(ctx, st, owner, burst, i, pairs, &recs[i])
			if errs[i] == nil { // answered only once committed: visible on another connection
				if _, err := st.Reader().Get(ctx, "items", recs[i].ID, nil); err != nil {
					errs[i] = fmt.Errorf("answered before its commit: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	updated := map[string]int{}
	for i, err := range errs {
		switch {
		case i < 10:
			if err == nil {
				updated[recs[i].ID]++
			} else {
				require.ErrorIs(t, err, store.ErrUnwritten, "write %d", i)
			}
		case i%5 == 0:
			require.ErrorIs(t, err, store.ErrConflict, "write %d", i)
		case i%5 == 1:
			require.ErrorIs(t, err, store.ErrUnwritten, "write %d", i)
		default:
			require.NoError(t, err, "write %d", i)
		}
		if i >= 10 {
			_, gerr := st.Reader().Get(ctx, "items", recs[i].ID, nil)
			require.Equal(t, err == nil, gerr == nil, "write %d: stored exactly when it succeeded", i)
		}
	}
	for _, p := range pairs {
		require.Equal(t, 1, updated[p.ID], "one of two updates of one version wrote")
		back, err := st.Reader().Get(ctx, "items", p.ID, nil)
		require.NoError(t, err)
		require.Equal(t, p.Version+1, back.Version)
	}
}

// burstWrite is groupBurst's i-th write; the first ten update the pairs, two each.
func burstWrite(ctx context.Context, st *store.Store, owner string, burst, i int, pairs []*store.Record, out **store.Record) error {
	if i < 10 {
		old := pairs[i/2]
		rec := *old
		rec.Values = append([]any(nil), old.Values...)
		rec.Values[fS] = fmt.Sprintf("u%d-%d", burst, i)
		*out = &rec
		var n int64
		return st.InTx(ctx, func(tx *store.Exec) error {
			return tx.UpdateScanning(ctx, "items", &rec, old, store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&n}, Last: true})
		})
	}
	rec := item(owner)
	*out = rec
	switch i % 5 {
	case 0:
		rec.Values[fS] = "taken"
	case 1:
		return insertAlone(ctx, st, rec, false)
	default:
		rec.Values[fS] = fmt.Sprintf("s%d-%d", burst, i)
	}
	return insertAlone(ctx, st, rec, true)
}
