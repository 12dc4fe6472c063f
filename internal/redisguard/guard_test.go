package redisguard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/redisguard"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// lockedBuffer is a log destination the guard's goroutines may write to concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the decoded log lines whose message starts with prefix.
func (b *lockedBuffer) lines(t *testing.T, prefix string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var m map[string]any
		if l == "" {
			continue
		}
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if strings.HasPrefix(m["msg"].(string), prefix) {
			out = append(out, m)
		}
	}
	return out
}

type bundle struct {
	srv   *testdb.PrivateRedis
	guard *redisguard.Guard
	log   *lockedBuffer
}

func setup(t *testing.T, srv *testdb.PrivateRedis) *bundle {
	t.Helper()
	if srv == nil {
		srv = testdb.StartPrivateRedis(t)
	}
	log := &lockedBuffer{}
	g, err := redisguard.Open(redisguard.Config{URL: srv.URL(), Timeout: 100 * time.Millisecond, TripAfter: 2,
		ProbeInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(log, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, g.Close()) })
	return &bundle{srv: srv, guard: g, log: log}
}

func ping(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }

// tripped calls Redis until the breaker opens, and fails if that takes more than TripAfter calls.
func (b *bundle) tripped(t *testing.T) {
	t.Helper()
	for i := 0; i < 2; i++ {
		err := b.guard.Do(context.Background(), ping)
		require.ErrorIs(t, err, redisguard.ErrUnavailable)
	}
	require.False(t, b.guard.Up())
	called := false
	err := b.guard.Do(context.Background(), func(context.Context, *redis.Client) error { called = true; return nil })
	require.ErrorIs(t, err, redisguard.ErrUnavailable)
	require.False(t, called, "an open breaker skips Redis")
}

func TestBreakerOpensOnAPausedOrStoppedRedisAndCloses(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	require.NoError(t, b.guard.Do(context.Background(), ping))
	require.True(t, b.guard.Up())

	b.srv.Pause()
	b.tripped(t)
	b.srv.Resume()
	require.Eventually(t, b.guard.Up, 10*time.Second, 5*time.Millisecond, "the prober closes the breaker")
	require.NoError(t, b.guard.Do(context.Background(), ping))

	b.srv.Stop()
	b.tripped(t)
	b.srv.Start()
	require.Eventually(t, b.guard.Up, 10*time.Second, 5*time.Millisecond)

	down := b.log.lines(t, "redis unavailable")
	back := b.log.lines(t, "redis available again")
	require.Len(t, down, 2, "one line per outage, not one per call")
	require.Len(t, back, 2)
	for _, l := range down {
		require.Equal(t, "WARN", l["level"])
		require.NotEmpty(t, l["cause"], "the line says why")
	}
	require.Contains(t, down[1]["cause"], "refused")
	require.Contains(t, back[0], "down_ms")
}

func TestNilIsAnAnswerNotAFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for i := 0; i < 5; i++ {
		err := b.guard.Do(context.Background(), func(ctx context.Context, c *redis.Client) error {
			return c.Get(ctx, "kiln-test-no-such-key").Err()
		})
		require.True(t, errors.Is(err, redis.Nil))
	}
	require.True(t, b.guard.Up())
}

// A caller that gives up (its request was cancelled) says nothing about Redis.
func TestCancelledCallerDoesNotTrip(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.srv.Pause()
	t.Cleanup(b.srv.Resume)
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, b.guard.Do(ctx, ping), redisguard.ErrUnavailable)
	}
	require.True(t, b.guard.Up())
}

// An instance that starts while Redis is down starts anyway, says so, and uses Redis once it
// answers.
func TestOpenWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	srv := testdb.StartPrivateRedis(t)
	srv.Stop()
	b := setup(t, srv)
	require.False(t, b.guard.Up())
	down := b.log.lines(t, "redis unavailable")
	require.Len(t, down, 1)
	require.Equal(t, "at start", down[0]["when"])
	srv.Start()
	require.Eventually(t, b.guard.Up, 10*time.Second, 5*time.Millisecond)
}

func TestOpenRefusesABadURLWithoutEchoingIt(t *testing.T) {
	t.Parallel()
	_, err := redisguard.Open(redisguard.Config{URL: "http://user:secret@host"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret")
}
