package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// The SQLite writer keeps the statements it prepares; a kept statement whose rows are still
// being read is never handed to a second query of the same text, and reuse after it is done
// gives fresh results.
func TestSQLiteKeptStatementsAreNotSharedWhileInUse(t *testing.T) {
	t.Parallel()
	st, ctx := openSQLite(t)
	const q = "SELECT n FROM t ORDER BY n"
	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		require.NoError(t, tx.ExecDDL(ctx, "CREATE TABLE t (n INTEGER)"))
		for i := 1; i <= 3; i++ {
			require.NoError(t, tx.ExecRaw(ctx, "INSERT INTO t (n) VALUES (?)", i))
		}
		rows, err := tx.QueryRaw(ctx, q)
		require.NoError(t, err)
		var outer []int
		for rows.Next() {
			var n int
			require.NoError(t, rows.Scan(&n))
			outer = append(outer, n)
			inner, err := tx.QueryRaw(ctx, q)
			require.NoError(t, err)
			count := 0
			for inner.Next() {
				count++
			}
			require.NoError(t, inner.Close())
			require.Equal(t, 3, count, "the nested query sees every row")
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		require.Equal(t, []int{1, 2, 3}, outer, "the outer rows were not disturbed")
		return nil
	}))
	for i := 4; i <= 50; i++ {
		require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, "INSERT INTO t (n) VALUES (?)", i) }))
		rows, err := st.Writer().QueryContext(ctx, "SELECT COUNT(*) FROM t")
		require.NoError(t, err)
		require.True(t, rows.Next())
		var n int
		require.NoError(t, rows.Scan(&n))
		require.NoError(t, rows.Close())
		require.Equal(t, i, n, "a kept statement runs again with fresh results")
	}
}
