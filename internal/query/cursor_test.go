package query

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

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

// FuzzCursorEncodeDecode: any sort text and keyset values come back out of their cursor as
// they went in, and only for that sort and that many values.
func FuzzCursorEncodeDecode(f *testing.F) {
	f.Add("-price,name", "Boots", 29.99, true)
	f.Add("", "\u0000\"\\", -1e308, false)
	f.Fuzz(func(t *testing.T, sort, text string, num float64, b bool) {
		if !utf8.ValidString(sort) {
			return // sorts are field names: the API refuses any other sort before reading a cursor
		}
		var vals []json.RawMessage
		for _, v := range []any{text, num, b, nil} {
			raw, err := json.Marshal(v)
			if err != nil {
				return // NaN and infinities are not JSON
			}
			vals = append(vals, raw)
		}
		c := EncodeCursor(sort, vals)
		if len(c) > maxCursorLen {
			_, err := DecodeCursor(c, sort, len(vals))
			require.ErrorIs(t, err, ErrBadCursor, "an over-long cursor is refused")
			return
		}
		got, err := DecodeCursor(c, sort, len(vals))
		require.NoError(t, err)
		require.Equal(t, vals, got)
		_, err = DecodeCursor(c, sort+"x", len(vals))
		require.ErrorIs(t, err, ErrBadCursor, "bound to its sort")
		_, err = DecodeCursor(c, sort, len(vals)+1)
		require.ErrorIs(t, err, ErrBadCursor, "bound to its number of values")
	})
}
