package jobs

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// River's "nil returned from periodic job constructor" line (a catch-up with no missed tick,
// on every start) is dropped; River's other lines, and that text at a higher level, pass.
func TestRiverLoggerDropsTheEmptyConstructorLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := riverLogger(slog.New(slog.NewTextHandler(&buf, nil))).With("service", "river")
	log.Info("maintenance.PeriodicJobEnqueuer: nil returned from periodic job constructor, skipping")
	log.Info("River client started")
	log.Error("nil returned from periodic job constructor: an error")
	out := buf.String()
	require.NotContains(t, out, "skipping")
	require.Contains(t, out, "River client started")
	require.Contains(t, out, "an error")
	require.Contains(t, out, "service=river", "With keeps the filter and the attributes")
	require.Nil(t, riverLogger(nil))
}
