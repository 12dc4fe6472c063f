package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// TestIdleHeapProfile serves the shop as kiln serve does and, once it has been idle for
// KILN_HEAP_IDLE (default 2.5 s), writes its heap profile to KILN_HEAP_PROFILE — a tool for
// docs/performance.md. Without KILN_HEAP_PROFILE it checks, after a short idle, that a served
// shop gives a heap profile (into a temporary file):
//
//	KILN_HEAP_PROFILE=/tmp/heap.pb GODEBUG=memprofilerate=1 go test -run TestIdleHeapProfile ./cmd/kiln
//	go tool pprof -sample_index=inuse_space -top /tmp/heap.pb
//
// (memprofilerate=1 records every allocation, package initialisation's too.) The idle wait
// is the point of the measurement: it lets the background work (job polling, the revocation
// list) run as it does in a served process.
func TestIdleHeapProfile(t *testing.T) {
	out, idleText := os.Getenv("KILN_HEAP_PROFILE"), envOr("KILN_HEAP_IDLE", "2.5s")
	dir := t.TempDir()
	if out == "" {
		out, idleText = filepath.Join(dir, "heap.pb"), "200ms"
	}
	idle, err := time.ParseDuration(idleText)
	require.NoError(t, err)
	shop := filepath.Join("..", "..", "examples", "shop")
	require.NoError(t, os.CopyFS(filepath.Join(dir, "migrations"), os.DirFS(filepath.Join(shop, "migrations"))))
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: filepath.Join(shop, "kiln.yaml"), DataDir: dir,
		MigrationsDir: filepath.Join(dir, "migrations"), Dev: true, AuthSecret: "heap-profile-secret-0123456789abcdef", Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, app.Close()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	<-time.After(idle)
	runtime.GC()
	f, err := os.Create(out)
	require.NoError(t, err)
	require.NoError(t, pprof.Lookup("heap").WriteTo(f, 0))
	require.NoError(t, f.Close())
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Positive(t, st.Size())
}
