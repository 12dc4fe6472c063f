package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/internal/logbuf"
)

// logFlushFlag adds --log-flush (env KILN_LOG_FLUSH) to a serving command.
func logFlushFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "log-flush", envOr("KILN_LOG_FLUSH", "100ms"),
		"longest time a log line waits to be written with others; warnings and errors go at once; 0: each line at once (env KILN_LOG_FLUSH)")
}

// serverLog is the JSON log of serve and worker on stderr. Lines are written in batches
// (logbuf): one write per access-log line cost about as much as the line's formatting. A line
// waits at most flush; warnings and errors are written at once, with everything before them.
// The caller flushes the writer after a line that must not wait (listening) and closes it
// before exiting.
func serverLog(flush string) (*slog.Logger, *logbuf.Writer, error) {
	every, err := time.ParseDuration(flush)
	if err != nil || every < 0 {
		return nil, nil, fmt.Errorf("--log-flush (KILN_LOG_FLUSH) %q: want a duration such as 100ms, or 0 to write each line at once", flush)
	}
	w := logbuf.New(os.Stderr, every)
	return slog.New(logbuf.JSONHandler(w)), w, nil
}
