package value

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInputYearsAreOneTo9999(t *testing.T) {
	for s, ok := range map[string]bool{
		"0001-01-01T00:00:00Z": true, "9999-12-31T23:59:59.999999Z": true, "2026-01-31T12:00:00+05:00": true,
		"0000-12-31T23:59:59Z": false, "0001-01-01T00:30:00+01:00": false, "9999-12-31T23:00:00-05:00": false,
		"0000-01-01T00:00:00.000000Z": false, // the stored form takes the fast path: checked all the same
	} {
		_, err := ParseInput(s)
		require.Equal(t, ok, err == nil, "%s: %v", s, err)
		if !ok && err != nil && s != "" {
			require.ErrorIs(t, err, ErrYearRange, s)
		}
	}
	for s, ok := range map[string]bool{"0001-01-01": true, "9999-12-31": true, "0000-01-01": false, "2026-02-30": false} {
		_, err := ParseDate(s)
		require.Equal(t, ok, err == nil, "%s: %v", s, err)
	}
	_, err := ParseTime("0000-01-01T00:00:00.000000Z")
	require.NoError(t, err, "what is stored still reads")
}
