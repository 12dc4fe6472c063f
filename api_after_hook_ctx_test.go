package kiln_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// An after-hook's context outlives the request: a client that goes away while a slow
// after-hook runs does not cancel it (the write committed; its notification was lost), and
// its deadline is the hook's own, not the request's query deadline.
func TestAfterHookOutlivesTheClient(t *testing.T) {
	t.Parallel()
	started, finished := make(chan struct{}), make(chan error, 1)
	var deadline time.Duration
	x := &kiln.Extensions{}
	x.After("tags", kiln.Create, func(ctx context.Context, _ kiln.Operation, _ *kiln.Record) {
		close(started)
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		select {
		case <-ctx.Done():
			finished <- ctx.Err()
		case <-time.After(500 * time.Millisecond):
			finished <- nil
		}
	})
	b := setupExt(t, "sqlite", x)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", b.srv.URL+"/api/tags", bytes.NewReader([]byte(`{"name":"late"}`)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.admin)
	go func() { <-started; cancel() }() // the client goes away while the hook runs
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	select {
	case err := <-finished:
		require.NoError(t, err, "the hook's context was cancelled by the client going away")
	case <-time.After(10 * time.Second):
		t.Fatal("the after-hook never finished")
	}
	require.Greater(t, deadline, 20*time.Second, "the hook's own deadline, not the request's")
	require.Equal(t, int64(1), b.count("tags"), "the write committed")
}
