package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

// sparseScan yields sparseRows rows 100,000 steps apart: SQLite works between two of them
// (about 30 ms here, seconds under the race detector), and all of them take far longer than
// a test's deadline. A gap of a million steps made each test wait up to half a minute for
// the row after its deadline under the race detector.
const (
	sparseRows = 600
	sparseScan = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000000) SELECT x FROM c WHERE x % 100000 = 1"
)

// Rows far apart (a sparse filter's scan, SQLite producing each between two Next calls): the
// query's deadline ends the loop over them, with the deadline's error. Only a bounded read runs
// with its context hidden from database/sql (quietCtx); a read like this one keeps it.
func TestDeadlineEndsALoopOverRows(t *testing.T) {
	t.Parallel()
	st, err := Open(context.Background(), Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, &spec.Spec{})
	require.NoError(t, err)
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	rows, err := st.Reader().query(ctx, sparseScan, nil)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	err = rows.Err()
	_ = rows.Close()
	require.Error(t, err, "%d rows after %v", n, time.Since(start))
	require.Less(t, n, sparseRows, "the loop ended before the last row")
}
