package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// The SQLite readers map the database file and the writer does not (openSQLite says why):
// each connection's mmap_size is what its DSN names, whatever order modernc runs pragmas in.
func TestSQLiteOnlyReadersMapTheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, &spec.Spec{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
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
