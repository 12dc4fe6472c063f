package kiln_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/service"
)

func TestServeDrainsInFlightRequestsOnShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv})
	require.NoError(t, err)
	defer app.Close()
	staff, err := app.Service.Create(service.AsSystem(context.Background()), "users",
		map[string]any{"email": "staff@example.com", "role": "staff"}, service.WriteOpts{})
	require.NoError(t, err)
	pair, err := app.Accounts.StartSession(context.Background(), staff.ID)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln) }()

	// Start a create and wait until its handler is reading the body ("100 Continue" is sent
	// on the first read), then ask the server to stop while the body is still on its way.
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	body := `{"name":"drained"}`
	_, err = fmt.Fprintf(conn, "POST /api/tags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "+pair.AccessToken+"\r\n"+
		"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	require.NoError(t, err)
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "100 Continue")
	_, _ = rd.ReadString('\n') // blank line after the interim response
	cancel()
	_, err = io.WriteString(conn, body)
	require.NoError(t, err)
	res, err := http.ReadResponse(rd, nil)
	require.NoError(t, err, "the in-flight request was cut off")
	require.Equal(t, http.StatusCreated, res.StatusCode)
	res.Body.Close()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	_, err = http.Get("http://" + ln.Addr().String() + "/healthz")
	require.Error(t, err, "the listener is closed")
}

// Config.Serving is called once, when Serve has started its workers, before it answers.
func TestServeCallsServingOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	calls := make(chan struct{}, 2)
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv, Serving: func() { calls <- struct{}{} }})
	require.NoError(t, err)
	defer app.Close()
	addr, stop := serveOn(t, app)
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("Serving was not called")
	}
	res, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, stop())
	require.Empty(t, calls, "called once")
}

// serveOn runs app.Serve on a fresh loopback listener; stop ends it and returns Serve's error.
func serveOn(t *testing.T, app *kiln.App) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln) }()
	return ln.Addr().String(), func() error { cancel(); return <-done }
}
