package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

// The driver's values reach the store's targets as database/sql's Scan would put them; a
// value of another type is an error, not a zero.
func TestDriverRowsAssignTheStoresTargets(t *testing.T) {
	var id string
	var version int64
	var text sql.NullString
	var n sql.NullInt64
	var f sql.NullFloat64
	rows := &driverRows{ctx: context.Background(), rows: &oneRow{vals: []driver.Value{[]byte("id-1"), int64(3), "x", nil, 1.5}}, dest: make([]driver.Value, 5)}
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&id, &version, &text, &n, &f))
	require.Equal(t, "id-1", id)
	require.Equal(t, int64(3), version)
	require.Equal(t, sql.NullString{String: "x", Valid: true}, text)
	require.False(t, n.Valid)
	require.Equal(t, sql.NullFloat64{Float64: 1.5, Valid: true}, f)
	require.False(t, rows.Next())
	require.NoError(t, rows.Err())

	require.ErrorContains(t, rows.Scan(&id), "1 targets for 5 columns")
	require.ErrorContains(t, assignValue(&version, "7"), "cannot store a string in a *int64")
	require.ErrorContains(t, assignValue(&id, nil), "cannot store a <nil> in a *string")
}

type oneRow struct {
	vals []driver.Value
	done bool
}

func (r *oneRow) Columns() []string { return make([]string, len(r.vals)) }
func (r *oneRow) Close() error      { return nil }
func (r *oneRow) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	copy(dest, r.vals)
	return nil
}

// A read on the driver connection stops at its deadline between rows, as database/sql's Rows
// do: SQLite watches only the first step, and each further row of a sparse scan runs long.
func TestDirectReadsEndAtTheirDeadlineBetweenRows(t *testing.T) {
	t.Parallel()
	st, err := Open(context.Background(), Config{SQLitePath: filepath.Join(t.TempDir(), "k.db")}, &spec.Spec{})
	require.NoError(t, err)
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	conn, err := st.reader.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	start, n := time.Now(), 0
	err = conn.Raw(func(dc any) error {
		return dc.(*stmtConn).queryDirect(ctx, sparseScan, nil, func(rows rowSource) error {
			for rows.Next() {
				n++
			}
			return rows.Err()
		})
	})
	require.ErrorIs(t, err, context.DeadlineExceeded, "%d rows after %v", n, time.Since(start))
	require.Less(t, n, sparseRows, "the loop ended before the last row")
}
