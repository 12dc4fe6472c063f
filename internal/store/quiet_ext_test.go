package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// openTypes opens a store with the allTypes spec migrated and one owner, whose id it returns.
func openTypes(t *testing.T, cfg store.Config) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	s, err := spec.Parse("types.yaml", []byte(allTypes), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	st, err := store.Open(ctx, cfg, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, migrate.New(migrate.Config{Dir: t.TempDir()}, st).Dev(ctx, migrate.FromSpec(s), false, nil))
	require.NoError(t, st.PrepareStatements(ctx))
	owner := newID()
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "owners", rec(owner, "o")) }))
	return st, owner
}

// A read by primary key runs with its context hidden from database/sql, but its wait for a
// SQLite reader connection still ends with its deadline.
func TestBoundedReadsWaitForAReaderWithinTheirDeadline(t *testing.T) {
	t.Parallel()
	st, owner := openTypes(t, store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db"), MaxReaders: 1})
	ctx := context.Background()
	hctx, cancel := context.WithTimeout(ctx, 3*time.Second) // another request holds the only reader
	defer cancel()
	held := make(chan struct{})
	go func() {
		defer close(held)
		rows, err := st.Reader().QueryRaw(hctx, slowCount("sqlite"))
		if err == nil {
			_ = rows.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	wctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err := st.Reader().Get(wctx, "owners", owner, nil)
	require.ErrorIs(t, err, store.ErrTimeout)
	require.Less(t, time.Since(start), time.Second, "the waiter's 100ms deadline ended its wait")
	<-held
	got, err := st.Reader().Get(ctx, "owners", owner, nil)
	require.NoError(t, err)
	require.Equal(t, owner, got.ID)
}

// A transaction's deadline cancels its COMMIT on PostgreSQL (a deferred trigger that sleeps).
func TestDeadlineCancelsACommitOnPostgres(t *testing.T) {
	t.Parallel()
	st, _ := openTypes(t, store.Config{URL: testdb.PostgresURL(t)})
	ctx := context.Background()
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		if err := tx.ExecDDL(ctx, `CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN PERFORM pg_sleep(3); RETURN NULL; END'`); err != nil {
			return err
		}
		return tx.ExecDDL(ctx, `CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON owners DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`)
	}))
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	id := newID()
	err := st.InTx(tctx, func(tx *store.Exec) error { return tx.Insert(tctx, "owners", rec(id, "p")) })
	require.Less(t, time.Since(start), 2*time.Second, "the 300ms deadline cancelled the COMMIT")
	require.ErrorIs(t, err, store.ErrTimeout)
	_, err = st.Reader().Get(ctx, "owners", id, nil)
	require.ErrorIs(t, err, store.ErrNotFound, "nothing was committed")
}

// PostgreSQL's infinity (written outside Kiln) has no value in Kiln: a read by id on pgx's
// pool refuses it as a read in a transaction does, never serving it as the year 1.
func TestInfiniteTimesAreRefusedByEveryPostgresRead(t *testing.T) {
	t.Parallel()
	st, owner := openTypes(t, store.Config{URL: testdb.PostgresURL(t)})
	ctx := context.Background()
	for _, set := range []string{"dt = 'infinity'", "day = '-infinity'", "created_at = 'infinity'"} {
		it := item(owner)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.Insert(ctx, "items", it) }))
		_, err := st.Reader().Get(ctx, "items", it.ID, nil)
		require.NoError(t, err)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
			return tx.ExecRaw(ctx, "UPDATE items SET "+set+" WHERE id = $1", it.ID)
		}))
		_, err = st.Reader().Get(ctx, "items", it.ID, nil)
		require.Error(t, err, "%s, read by id on the pool", set)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
			_, err := tx.Get(ctx, "items", it.ID, nil)
			require.Error(t, err, "%s, read in a transaction", set)
			return nil
		}))
	}
}
