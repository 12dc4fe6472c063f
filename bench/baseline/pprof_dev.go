//go:build kilnpprof

package main

// A development build (go build -tags kilnpprof ./bench/baseline) serves net/http/pprof on
// BASELINE_PPROF_ADDR (default 127.0.0.1:6061), to profile the baseline under the load
// benchmark beside a kilnpprof build of kiln (go run ./bench -baseline BIN -kiln BIN).
// The benchmark's own builds do not contain it.

import (
	"net/http"
	_ "net/http/pprof" // registers the handlers on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("BASELINE_PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6061"
	}
	go func() { _ = http.ListenAndServe(addr, nil) }() //nolint:gosec // development build only
}
