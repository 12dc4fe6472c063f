package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// openSQLite opens a SQLite store of no resources in a temporary directory.
func openSQLite(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st, ctx
}

// Every SQLite connection runs in SQLite's multi-thread mode, without the per-connection mutex
// modernc's serialized opening gives it (locked and unlocked on every step and column read).
// If a new driver version hides the handle, the connections stay serialized and this fails.
func TestSQLiteConnectionsRunWithoutTheirMutex(t *testing.T) {
	t.Parallel()
	st, ctx := openSQLite(t)
	mutexes, err := st.ConnMutexes(ctx)
	require.NoError(t, err)
	require.Equal(t, []uintptr{0, 0, 0}, mutexes, "writer, reader and watcher connections without a mutex")
}

// The SQLite readers map the database file and the writer does not (openSQLite says why):
// each connection's mmap_size is what its DSN names, whatever order modernc runs pragmas in.
func TestSQLiteOnlyReadersMapTheFile(t *testing.T) {
	t.Parallel()
	st, ctx := openSQLite(t)
	mmapOf := func(ex *store.Exec) int64 {
		rows, err := ex.QueryRaw(ctx, "PRAGMA mmap_size")
		require.NoError(t, err)
		defer rows.Close()
		var n int64
		require.True(t, rows.Next())
		require.NoError(t, rows.Scan(&n))
		require.NoError(t, rows.Err())
		return n
	}
	require.Equal(t, int64(256<<20), mmapOf(st.Reader()), "a reader")
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		require.Equal(t, int64(0), mmapOf(tx), "the writer")
		return nil
	}))
	var n int64
	require.NoError(t, st.Watcher().QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&n))
	require.Equal(t, int64(256<<20), n, "the watcher")
}

// Readers, writers and reads whose deadline interrupts them mid-statement share the pools at
// once: transfers keep the accounts' total, and every read sees it whole. (The connections have
// no mutex of their own; database/sql hands each to one goroutine at a time. Run with -race.)
func TestSQLiteConnectionsWithoutMutexUnderConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db"), MaxReaders: 4}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	const accounts, each = 50, 100
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		require.NoError(t, tx.ExecDDL(ctx, "CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER)"))
		for i := range accounts {
			require.NoError(t, tx.ExecRaw(ctx, "INSERT INTO acct (id, name, balance) VALUES (?, ?, ?)", i, fmt.Sprintf("account %d", i), each))
		}
		return nil
	}))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 2 {
		wg.Go(func() { errs <- transfers(ctx, st, w, accounts) })
	}
	for range 6 {
		wg.Go(func() { errs <- totals(ctx, st, accounts, accounts*each) })
	}
	wg.Go(func() { errs <- interruptedReads(ctx, st) })
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func transfers(ctx context.Context, st *store.Store, seed, accounts int) error {
	for i := range 150 {
		from, to := (seed*7+i*3)%accounts, (seed*11+i*5+1)%accounts
		err := st.InTx(ctx, func(tx *store.Exec) error {
			if err := tx.ExecRaw(ctx, "UPDATE acct SET balance = balance - 3 WHERE id = ?", from); err != nil {
				return err
			}
			return tx.ExecRaw(ctx, "UPDATE acct SET balance = balance + 3 WHERE id = ?", to)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func totals(ctx context.Context, st *store.Store, accounts, want int) error {
	for range 200 {
		rows, err := st.Reader().QueryRaw(ctx, "SELECT id, name, balance FROM acct ORDER BY id")
		if err != nil {
			return err
		}
		sum, n := 0, 0
		for rows.Next() {
			var id, balance int
			var name string
			if err := rows.Scan(&id, &name, &balance); err != nil {
				_ = rows.Close()
				return err
			}
			if name != fmt.Sprintf("account %d", id) {
				_ = rows.Close()
				return fmt.Errorf("account %d read as %q", id, name)
			}
			sum, n = sum+balance, n+1
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if sum != want || n != accounts {
			return fmt.Errorf("read %d accounts totalling %d, want %d totalling %d", n, sum, accounts, want)
		}
	}
	return nil
}

// interruptedReads runs a long statement under short deadlines: modernc interrupts it from
// the goroutine watching the context (sqlite3_interrupt takes no mutex).
func interruptedReads(ctx context.Context, st *store.Store) error {
	const long = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000000) SELECT count(*) FROM n"
	for range 20 {
		c, cancel := context.WithTimeout(ctx, time.Millisecond)
		rows, err := st.Reader().QueryRaw(c, long)
		if err == nil {
			for rows.Next() {
			}
			err = errors.Join(rows.Err(), rows.Close())
		}
		cancel()
		if err == nil {
			return errors.New("a 5,000,000-step statement finished within 1ms")
		}
	}
	return nil
}
