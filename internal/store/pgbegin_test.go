package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// openBeginTest opens a PostgreSQL store of at most conns connections with a table t (id
// unique) to write to.
func openBeginTest(t *testing.T, conns int) (*store.Store, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a confused connection fails, not hangs
	t.Cleanup(cancel)
	st, err := store.Open(ctx, store.Config{URL: testdb.PostgresURL(t), MaxReaders: conns}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecDDL(ctx, "CREATE TABLE t (id BIGINT PRIMARY KEY)")
	}))
	return st, ctx
}

// row reads the one row of integers q returns.
func row(t *testing.T, ctx context.Context, ex *store.Exec, q string, args ...any) []int64 {
	t.Helper()
	rows, err := ex.QueryRaw(ctx, q, args...)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	cols, err := rows.Columns()
	require.NoError(t, err)
	out := make([]int64, len(cols))
	dst := make([]any, len(cols))
	for i := range out {
		dst[i] = &out[i]
	}
	require.NoError(t, rows.Scan(dst...))
	return out
}

func countRows(t *testing.T, ctx context.Context, st *store.Store) int {
	return int(row(t, ctx, st.Reader(), "SELECT count(*) FROM t WHERE id > ?", -1)[0])
}

func txid(t *testing.T, ctx context.Context, ex *store.Exec) int64 {
	return row(t, ctx, ex, "SELECT txid_current() + ?", 0)[0]
}

// BEGIN travels with a transaction's first statement, and the transaction is still one:
// its statements share a transaction id, and a failure takes back what came before it.
func TestLazyBeginKeepsTransactionsWhole(t *testing.T) {
	t.Parallel()
	st, ctx := openBeginTest(t, 0)
	require.NotEqual(t, txid(t, ctx, st.Reader()), txid(t, ctx, st.Reader()), "outside a transaction each statement is its own")
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		require.Equal(t, txid(t, ctx, tx), txid(t, ctx, tx), "one transaction")
		return nil
	}))

	fail := errors.New("changed my mind")
	err := st.InTx(ctx, func(tx *store.Exec) error {
		require.NoError(t, tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 1))
		return fail
	})
	require.ErrorIs(t, err, fail)
	err = st.InTx(ctx, func(tx *store.Exec) error {
		require.NoError(t, tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 2))
		return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 2)
	})
	require.ErrorIs(t, err, store.ErrConflict)
	require.Zero(t, countRows(t, ctx, st), "nothing of either transaction is left")

	// A first statement without arguments goes by the simple protocol: BEGIN goes first on its own.
	err = st.InTx(ctx, func(tx *store.Exec) error {
		require.NoError(t, tx.ExecDDL(ctx, "INSERT INTO t (id) VALUES (3)"))
		return fail
	})
	require.ErrorIs(t, err, fail)
	require.Zero(t, countRows(t, ctx, st))

	// A transaction that ran nothing ends without a word to the server; the connection is fine.
	for range 20 {
		require.NoError(t, st.InTx(ctx, func(*store.Exec) error { return nil }))
		require.ErrorIs(t, st.InTx(ctx, func(*store.Exec) error { return fail }), fail)
	}
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 4) }))
	require.Equal(t, 1, countRows(t, ctx, st))
}

// Many writers at once each get their own whole transaction.
func TestLazyBeginUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	st, ctx := openBeginTest(t, 0)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := w*1000 + i
				_ = st.InTx(ctx, func(tx *store.Exec) error {
					if err := tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", id); err != nil {
						return err
					}
					if i%2 == 1 {
						return fmt.Errorf("odd %d", i) // rolled back
					}
					return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", id+500)
				})
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 8*25*2, countRows(t, ctx, st))
}

// When BEGIN fails, the statement sent with it does not run at all (not outside a
// transaction): the server skips to the statement's Sync, and its caller gets BEGIN's error.
func TestFailedLazyBeginRunsNothing(t *testing.T) {
	st, ctx := openBeginTest(t, 0)
	restore := store.SetBeginStatement("SELECT 1/0")
	err := st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 1)
	})
	restore()
	require.ErrorContains(t, err, "division by zero", "BEGIN's own error")
	require.Zero(t, countRows(t, ctx, st), "the insert never ran")

	// A caller that goes on after the failure gets no "committed" for statements that ran
	// outside any transaction.
	restore = store.SetBeginStatement("SELECT 1/0")
	err = st.InTx(ctx, func(tx *store.Exec) error {
		_ = tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 1) // fails with BEGIN's error; ignored
		return tx.ExecRaw(ctx, "DELETE FROM t WHERE id = ?", 1)
	})
	restore()
	require.Error(t, err)
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 2) }))
	require.Equal(t, 1, countRows(t, ctx, st), "the pool's connections still work")
}

// A failed statement makes pgx deallocate it before the connection's next statement, in a
// pipeline of its own; when that next statement opens a lazily begun transaction, the answers
// of the deallocation are not BEGIN's, and the statement still reads its own rows.
func TestLazyBeginAfterAFailedStatement(t *testing.T) {
	t.Parallel()
	st, ctx := openBeginTest(t, 1) // one connection: every transaction uses the one that failed
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 7) }))
	for i := range 5 {
		err := st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 7) })
		require.ErrorIs(t, err, store.ErrConflict)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
			rows, err := tx.QueryRaw(ctx, "SELECT id FROM t WHERE id = ?", 7)
			require.NoError(t, err)
			defer rows.Close()
			require.Truef(t, rows.Next(), "round %d: the row is read", i)
			var id int
			require.NoError(t, rows.Scan(&id))
			require.Equal(t, 7, id)
			require.False(t, rows.Next())
			return rows.Err()
		}))
	}
}

// BenchmarkWriteTx is a create's transaction on PostgreSQL (two inserts) from 16 goroutines,
// with BEGIN sent with the first insert (lazy) and on its own (eager).
func BenchmarkWriteTx(b *testing.B) {
	for _, lazy := range []bool{true, false} {
		name := map[bool]string{true: "lazy", false: "eager"}[lazy]
		b.Run(name, func(b *testing.B) {
			store.SetLazyBegin(lazy)
			defer store.SetLazyBegin(true)
			ctx := context.Background()
			st, err := store.Open(ctx, store.Config{URL: testdb.PostgresURL(b)}, &spec.Spec{})
			require.NoError(b, err)
			defer st.Close()
			require.NoError(b, st.InTx(ctx, func(tx *store.Exec) error {
				return tx.ExecDDL(ctx, "CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v TEXT); "+
					"CREATE TABLE e (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v TEXT)")
			}))
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := st.InTx(ctx, func(tx *store.Exec) error {
						if err := tx.ExecRaw(ctx, "INSERT INTO t (v) VALUES (?)", "x"); err != nil {
							return err
						}
						return tx.ExecRaw(ctx, "INSERT INTO e (v) VALUES (?)", "y")
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// A first statement larger than any one network write still carries BEGIN whole.
func TestLazyBeginWithALargeFirstStatement(t *testing.T) {
	t.Parallel()
	st, ctx := openBeginTest(t, 1)
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecDDL(ctx, "CREATE TABLE big (v TEXT)") }))
	big := strings.Repeat("kiln ", 100_000)
	fail := errors.New("no")
	require.ErrorIs(t, st.InTx(ctx, func(tx *store.Exec) error {
		require.NoError(t, tx.ExecRaw(ctx, "INSERT INTO big (v) VALUES (?)", big))
		return fail
	}), fail)
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, "INSERT INTO big (v) VALUES (?)", big) }))
	got := row(t, ctx, st.Reader(), "SELECT count(*), max(length(v)) FROM big WHERE v <> ?", "")
	require.Equal(t, []int64{1, int64(len(big))}, got, "the rolled-back row is gone, the committed one whole")
}

// With the simple protocol as the connection's default no statement could carry BEGIN: the
// transaction begins at once, and is still whole.
func TestSimpleProtocolTransactionsStayWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: testdb.PostgresURL(t) + "&default_query_exec_mode=simple_protocol"}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecDDL(ctx, "CREATE TABLE t (id BIGINT PRIMARY KEY)") }))
	fail := errors.New("no")
	require.ErrorIs(t, st.InTx(ctx, func(tx *store.Exec) error {
		require.Equal(t, txid(t, ctx, tx), txid(t, ctx, tx), "one transaction")
		require.NoError(t, tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", 1))
		return fail
	}), fail)
	require.Zero(t, countRows(t, ctx, st))
}

// A pooled connection whose server session ended while it was idle fails on the transaction's
// first statement — the one carrying BEGIN, so nothing ran — and InTx runs the transaction
// again on a fresh connection.
func TestLazyBeginOnAConnectionThatDiedWhileIdle(t *testing.T) {
	t.Parallel()
	url := testdb.PostgresURL(t)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: url, MaxReaders: 1}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecDDL(ctx, "CREATE TABLE t (id BIGINT PRIMARY KEY)") }))
	admin, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer admin.Close(ctx)
	for i := range 3 {
		pid := row(t, ctx, st.Reader(), "SELECT pg_backend_pid() + ?", 0)[0] // the pool's one connection
		_, err = admin.Exec(ctx, "SELECT pg_terminate_backend($1::int, 5000)", pid)
		require.NoError(t, err)
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, "INSERT INTO t (id) VALUES (?)", i) }),
			"round %d", i)
	}
	require.Equal(t, 3, countRows(t, ctx, st))
}
