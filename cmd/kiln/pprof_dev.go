//go:build kilnpprof

package main

// A development build (go build -tags kilnpprof ./cmd/kiln) serves net/http/pprof on
// KILN_PPROF_ADDR (default 127.0.0.1:6060), for profiling a server under the load benchmark:
//
//	go tool pprof -seconds 5 http://127.0.0.1:6060/debug/pprof/profile
//
// Release builds do not contain it.

import (
	"net/http"
	_ "net/http/pprof" // registers the handlers on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("KILN_PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	go func() { _ = http.ListenAndServe(addr, nil) }() //nolint:gosec // development build only
}
