package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// A kept statement is compiled once, whatever values are bound to it later. Without SQLite's
// query planner stability guarantee, a statement whose plan looked at a bound value was
// compiled again when bound anew: a LIMIT parameter when its value changed (the job queue's
// fetch), a LIKE pattern or a parameter compared with a partial index's condition after every
// run (modernc clears the bindings after each one, which expires such a statement). The second half runs the same statements on a
// connection without the guarantee, to show what it prevents.
func TestSQLiteKeptStatementsAreNotCompiledAgain(t *testing.T) {
	t.Parallel()
	st, ctx := openSQLite(t)
	stable, err := st.StablePlans(ctx)
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, true}, stable, "writer, reader and watcher connections")

	require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
		require.NoError(t, tx.ExecDDL(ctx, "CREATE TABLE job (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, state TEXT NOT NULL, k TEXT, at TEXT, pri INTEGER NOT NULL DEFAULT 1)"))
		require.NoError(t, tx.ExecDDL(ctx, "CREATE INDEX job_done ON job (k) WHERE state = 'done'"))
		require.NoError(t, tx.ExecDDL(ctx, "CREATE INDEX job_fetch ON job (state, queue, pri, at, id)"))
		for i := range 20 {
			require.NoError(t, tx.ExecRaw(ctx, "INSERT INTO job (queue, state, k, at) VALUES ('q', ?, ?, ?)", []string{"available", "done"}[i%2], string(rune('a'+i)), i))
		}
		return nil
	}))
	statements := []struct {
		name, sql string
		runs      [][]any
	}{
		{"LIMIT parameter", "UPDATE job SET pri = pri + 1 WHERE id IN (SELECT id FROM job WHERE queue = ? AND state = 'available' ORDER BY pri, at, id LIMIT ?) RETURNING id",
			[][]any{{"q", 5}, {"q", 2}, {"q", 7}, {"q", 1}}},
		{"LIKE pattern", "SELECT id FROM job WHERE k LIKE ?", [][]any{{"a%"}, {"b%"}, {"%c"}}},
		{"partial index condition", "SELECT id FROM job WHERE state = ? AND k = ?", [][]any{{"done", "b"}, {"available", "a"}, {"done", "d"}}},
	}
	for _, s := range statements {
		n, err := st.Reprepares(ctx, s.sql, s.runs, true)
		require.NoError(t, err)
		require.Zero(t, n, "%s: compiled again %d times with the guarantee", s.name, n)
		n, err = st.Reprepares(ctx, s.sql+" -- without", s.runs, false)
		require.NoError(t, err)
		require.Equal(t, len(s.runs)-1, n, "%s: without the guarantee every run after the first compiles it again", s.name)
	}
}
