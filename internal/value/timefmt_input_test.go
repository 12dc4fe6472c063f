package value

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A client's date-time is RFC 3339, kept to the microsecond (finer digits are cut: Go clients
// send nanoseconds); Go's parser takes a comma before the fraction, which is refused (a trial).
func TestParseInputRefusesWhatItWouldNotKeep(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-12-01T10:00:00Z":                "2026-12-01T10:00:00Z",
		"2026-12-01T10:00:00.5Z":              "2026-12-01T10:00:00.5Z",
		"2026-12-01T10:00:00.123456+02:00":    "2026-12-01T08:00:00.123456Z",
		"2026-12-01T10:00:00.1234560000Z":     "2026-12-01T10:00:00.123456Z",
		"2026-12-01T10:00:00.000000000-01:00": "2026-12-01T11:00:00Z",
		"2026-12-01T10:00:00.123456789Z":      "2026-12-01T10:00:00.123456Z",
	} {
		got, err := ParseInput(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got.Format(time.RFC3339Nano), in)
	}
	for in, want := range map[string]error{
		"2026-12-01T10:00:00,5Z":      errNotRFC3339,
		"2026-12-01T10:00:00,123456Z": errNotRFC3339,
	} {
		_, err := ParseInput(in)
		require.True(t, errors.Is(err, want), "%s: %v", in, err)
	}
}
