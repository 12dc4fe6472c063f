// Command kiln turns a spec into a running, tested backend: kiln init, serve, spec,
// migrate and seed. Run kiln --help for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot(newOutput(os.Stdout, os.Stderr)).ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errTestsFailed) { // the summary line already said so
			fmt.Fprintln(os.Stderr, "kiln:", err)
		}
		os.Exit(1)
	}
}
