package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
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

	// A write alone on PostgreSQL takes no database/sql connection (pgopen.go): it goes
	// straight to pgx's pool. database/sql keeps no idle connection there (pgxpool does), so
	// each connection it hands out is closed when given back, and MaxIdleClosed counts it.
	t.Run("WritesAloneTakeNoDatabaseSQLConnection", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			return // SQLite's writes share its one writer connection
		}
		ctx := context.Background()
		closed, alone := st.Writer().Stats().MaxIdleClosed, st.Alone()
		for range 20 {
			require.NoError(t, insertAlone(ctx, st, item(owner), true))
		}
		require.Equal(t, alone+20, st.Alone())
		require.Equal(t, closed, st.Writer().Stats().MaxIdleClosed, "no database/sql connection was taken")
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", item(owner)) }))
		require.Equal(t, closed+1, st.Writer().Stats().MaxIdleClosed, "a transaction of other statements takes one")
	})

	// A member that fails in Go — its row cannot be scanned into its destination, or one of
	// its values cannot be encoded — fails alone: the others of its group hear their own
	// outcome, success exactly when their row is stored. Grouped counts only writes.
	t.Run("AMemberFailingInGoHarmsNoOther", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		ctx := context.Background()
		for range 8 {
			recs, errs := make([]*store.Record, 40), make([]error, 40)
			var wg sync.WaitGroup
			for i := range recs {
				recs[i] = item(owner)
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = goFailingWrite(ctx, st, recs[i], i)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				_, gerr := st.Reader().Get(ctx, "items", recs[i].ID, nil)
				switch {
				case i%9 == 4 || i%9 == 5:
					require.Error(t, err, "write %d", i)
				default:
					require.NoError(t, err, "write %d", i)
					require.NoError(t, gerr, "write %d", i)
				}
			}
		}
		require.Positive(t, st.Grouped())
		alone, grouped := st.Alone(), st.Grouped()
		var wg sync.WaitGroup
		for range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.ErrorIs(t, insertAlone(ctx, st, item(owner), false), store.ErrUnwritten)
			}()
		}
		wg.Wait()
		require.Equal(t, alone, st.Alone())
		require.Equal(t, grouped, st.Grouped(), "a write that wrote nothing is not counted")
	})

	// A statement in a group that waits for a lock does not hold the others of its group:
	// writes of other rows with a deadline of a second commit within it while another
	// transaction holds a row a third of the writes wait for, for two seconds.
	t.Run("ALockedMemberDoesNotHoldItsGroup", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		ctx := context.Background()
		release := holdUnique(t, st, owner, nil) // commits: the writes that waited clash
		errs, took := make([]error, 30), make([]time.Duration, 30)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := item(owner)
				if i%3 == 1 {
					a.Values[fS] = "held"
				}
				c, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				start := time.Now()
				errs[i] = insertAlone(c, st, a, true)
				took[i] = time.Since(start)
			}()
		}
		time.Sleep(2 * time.Second)
		require.NoError(t, release())
		wg.Wait()
		for i, err := range errs {
			if i%3 != 1 {
				require.NoError(t, err, "write %d of another row", i)
				require.Less(t, took[i], 1500*time.Millisecond, "write %d of another row", i)
			}
		}
	})

	// Writes to a table a migration holds (ACCESS EXCLUSIVE: pgx waits for it already when it
	// prepares a statement, before the group's lock timeout) hold up writes to another table
	// sent in their group for half a second at most: the group is cancelled, nothing of it
	// committed, and each write runs by itself.
	t.Run("ALockedTableHoldsNoWriteGroupLong", func(t *testing.T) {
		st, owner := newStore(t)
		if st.Dialect() == "sqlite" {
			refusedOnSQLite(t, st, owner)
			return
		}
		ctx := context.Background()
		lock, err := st.Pool().Acquire(ctx)
		require.NoError(t, err)
		_, err = lock.Exec(ctx, "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
		errs, took := make([]error, 24), make([]time.Duration, 24)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				var one int64
				res, r := "owners", rec(newID(), "o")
				if i%3 == 0 {
					res, r = "items", item(owner)
				}
				errs[i] = st.InTx(ctx, func(tx *store.Exec) error {
					return tx.InsertScanning(ctx, res, r, store.Fold{Then: "SELECT 1 FROM kiln_row", Dest: []any{&one}, Last: true})
				})
				took[i] = time.Since(start)
			}()
		}
		time.Sleep(2 * time.Second)
		_, err = lock.Exec(ctx, "COMMIT")
		lock.Release()
		require.NoError(t, err)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "write %d", i)
			if i%3 != 0 {
				require.Less(t, took[i], 1500*time.Millisecond, "write %d of owners", i)
			}
		}
		require.Equal(t, int64(8), mustCount(t, st, "items", nil))
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
		release := holdUnique(t, st, owner, errors.New("roll back"))
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
				_ = release()
				t.Fatal("writes of other rows waited for a lock they do not need")
			}
		}
		require.EqualError(t, release(), "roll back")
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

// holdUnique holds the unique value "held" of items in a transaction until release is called,
// which ends that transaction with end (nil: it commits) and answers its outcome.
func holdUnique(t *testing.T, st *store.Store, owner string, end error) (release func() error) {
	ctx := context.Background()
	held, released, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- st.InTx(ctx, func(tx *store.Exec) error {
			blocker := item(owner)
			blocker.Values[fS] = "held"
			if err := tx.Insert(ctx, "items", blocker); err != nil {
				return err
			}
			close(held)
			<-released
			return end
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("holding a row: %v", err)
	}
	return func() error {
		close(released)
		return <-done
	}
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

// A write alone that cannot get a connection (the connect is refused while the server stays
// up) sent nothing: InTx runs it again, as it does a BEGIN on a connection that died while
// idle, and it is written once.
func TestAWriteAloneWhoseConnectIsRefusedRunsAgain(t *testing.T) {
	t.Parallel()
	base := testdb.PostgresURL(t)
	u, err := url.Parse(base)
	require.NoError(t, err)
	proxy := testdb.StartProxy(t, u.Host)
	st, owner := openTypes(t, store.Config{URL: proxy.Via(base)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := 1; round <= 3; round++ {
		st.Pool().Reset() // the next write connects anew
		proxy.Refuse(1)
		alone, r := st.Alone(), item(owner)
		require.NoError(t, insertAlone(ctx, st, r, true), "round %d", round)
		require.Equal(t, round, proxy.Refused(), "round %d: a connect was refused", round)
		require.Equal(t, alone+1, st.Alone(), "round %d: it ran alone, on the second try", round)
		_, err := st.Reader().Get(ctx, "items", r.ID, nil)
		require.NoError(t, err, "round %d", round)
	}
}
