package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interruptHooks undo what a run set up outside its own process — the PostgreSQL databases
// it created, its temporary directory — when the run is interrupted (Ctrl-C, SIGTERM) rather
// than left to finish: deferred calls do not run then. The servers it started stop by
// themselves when it exits (their parent-death signal, see start).
type interruptHooks struct {
	mu    sync.Mutex
	hooks []func()
}

// add registers undo, run (last added first) if the run is interrupted.
func (h *interruptHooks) add(undo func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = append(h.hooks, undo)
}

// watch runs the hooks and exits on the first SIGINT or SIGTERM.
func (h *interruptHooks) watch() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nbench: %s: cleaning up…\n", s)
		h.mu.Lock()
		for i := len(h.hooks) - 1; i >= 0; i-- {
			h.hooks[i]()
		}
		os.Exit(130)
	}()
}
