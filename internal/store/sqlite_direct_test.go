package store

import (
	"database/sql"
	"database/sql/driver"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// The driver's values reach the store's targets as database/sql's Scan would put them; a
// value of another type is an error, not a zero.
func TestDriverRowsAssignTheStoresTargets(t *testing.T) {
	var id string
	var version int64
	var text sql.NullString
	var n sql.NullInt64
	var f sql.NullFloat64
	rows := &driverRows{rows: &oneRow{vals: []driver.Value{[]byte("id-1"), int64(3), "x", nil, 1.5}}, dest: make([]driver.Value, 5)}
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
