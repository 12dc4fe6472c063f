package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// rebindDollarFrom numbers each ? from first, leaves the rest of the text as it is, and costs
// one allocation (none without a placeholder).
func TestRebindDollarFrom(t *testing.T) {
	for _, c := range []struct {
		in    string
		first int
		want  string
	}{
		{"", 1, ""},
		{"SELECT 1", 1, "SELECT 1"},
		{"?", 1, "$1"},
		{"a = ? AND b = ?", 1, "a = $1 AND b = $2"},
		{"x IN (?, ?) OR y = ?", 8, "x IN ($8, $9) OR y = $10"},
		{"??", 99, "$99$100"},
		{"é = ? -- ?", 3, "é = $3 -- $4"},
	} {
		require.Equal(t, c.want, rebindDollarFrom(c.in, c.first), "%q from %d", c.in, c.first)
	}
	long := "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = rebindDollarFrom(long, 20) }))
	require.Equal(t, 0.0, testing.AllocsPerRun(100, func() { _ = rebindDollarFrom("SELECT 1", 1) }))
}
