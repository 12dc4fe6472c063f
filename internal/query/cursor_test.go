package query

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	vals := []json.RawMessage{json.RawMessage(`29.99`), json.RawMessage(`"0192-id"`)}
	c := EncodeCursor("-price", vals)
	got, err := DecodeCursor(c, "-price", 2)
	require.NoError(t, err)
	require.Equal(t, vals, got)

	_, err = DecodeCursor(c, "name", 2)
	require.ErrorIs(t, err, ErrBadCursor)
	_, err = DecodeCursor(c, "-price", 3)
	require.ErrorIs(t, err, ErrBadCursor)
	_, err = DecodeCursor("!!!", "-price", 2)
	require.ErrorIs(t, err, ErrBadCursor)
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor("-price", []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"x"`)}), "-price")
	f.Add("eyJzIjoiIiwidiI6bnVsbH0", "")
	f.Add("%%%", "name")
	f.Fuzz(func(t *testing.T, s, sort string) {
		vals, err := DecodeCursor(s, sort, 2)
		if err == nil && len(vals) != 2 {
			t.Fatalf("accepted cursor with %d values", len(vals))
		}
	})
}
