package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/redisguard"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// guard opens a Redis guard with a deadline generous enough for a busy test machine.
func guard(t *testing.T, url string) *redisguard.Guard {
	t.Helper()
	g, err := redisguard.Open(redisguard.Config{URL: url, Timeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close() })
	return g
}

func TestParseLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Limit{"60/min": {60, time.Minute}, "10/s": {10, time.Second}, "5/30s": {5, 30 * time.Second}, "1000/h": {1000, time.Hour}} {
		got, err := ParseLimit(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "60", "0/min", "-1/min", "5/ms", "x/min", "5/fortnight"} {
		_, err := ParseLimit(bad)
		require.Error(t, err, bad)
	}
}

// exercise states the limiter behaviour once for both implementations.
func exercise(t *testing.T, l Limiter, clock *time.Time) {
	ctx := context.Background()
	lim := Limit{Requests: 3, Window: time.Minute}
	for i := 1; i <= 3; i++ {
		r, err := l.Allow(ctx, "ip:1", lim)
		require.NoError(t, err)
		require.True(t, r.Allowed)
		require.Equal(t, 3-i, r.Remaining)
	}
	r, err := l.Allow(ctx, "ip:1", lim)
	require.NoError(t, err)
	require.False(t, r.Allowed)
	require.Positive(t, r.Reset)
	other, _ := l.Allow(ctx, "ip:2", lim)
	require.True(t, other.Allowed, "keys have their own buckets")
	*clock = clock.Add(time.Minute)
	r, err = l.Allow(ctx, "ip:1", lim)
	require.NoError(t, err)
	require.True(t, r.Allowed, "a new window starts afresh")
}

func TestMemory(t *testing.T) {
	t.Parallel()
	clock := time.Unix(1_800_000_000, 0)
	exercise(t, NewMemory(func() time.Time { return clock }), &clock)
}

func TestRedisSharesBuckets(t *testing.T) {
	t.Parallel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "kiln-test-" + hex.EncodeToString(b[:]) + ":"
	ctx := context.Background()
	lim := Limit{Requests: 2, Window: time.Minute}
	a, c := NewRedis(guard(t, testdb.RedisURL(t)), prefix), NewRedis(guard(t, testdb.RedisURL(t)), prefix)
	r1, _ := a.Allow(ctx, "shared", lim)
	r2, _ := c.Allow(ctx, "shared", lim)
	r3, _ := a.Allow(ctx, "shared", lim)
	require.True(t, r1.Allowed && r2.Allowed)
	require.False(t, r3.Allowed, "two limiters on one Redis count together")
}

func TestRedisWindowExpires(t *testing.T) {
	t.Parallel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	l := NewRedis(guard(t, testdb.RedisURL(t)), "kiln-test-"+hex.EncodeToString(b[:])+":")
	ctx := context.Background()
	lim := Limit{Requests: 1, Window: time.Second}
	r, err := l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	require.True(t, r.Allowed)
	require.LessOrEqual(t, r.Reset, time.Second)
	r, _ = l.Allow(ctx, "k", lim)
	require.False(t, r.Allowed)
	// Redis times the window: wait for it to end the way a client would, by its Reset.
	require.Eventually(t, func() bool {
		r, err := l.Allow(ctx, "k", lim)
		return err == nil && r.Allowed
	}, 5*time.Second, 100*time.Millisecond)
}

// While Redis is paused or stopped, the fallback keeps limiting with what this instance has
// counted itself, the window included; when Redis is back, the shared bucket decides again.
func TestFallbackLimitsLocallyWhileRedisIsOut(t *testing.T) {
	t.Parallel()
	srv := testdb.StartPrivateRedis(t)
	g, err := redisguard.Open(redisguard.Config{URL: srv.URL(), Timeout: 100 * time.Millisecond, TripAfter: 1,
		ProbeInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close() })
	ctx := context.Background()
	lim := Limit{Requests: 4, Window: time.Minute}
	f := NewFallback(NewRedis(g, "t:"), NewMemory(nil))
	other := NewRedis(g, "t:") // another instance's view of the shared bucket
	for i := 0; i < 2; i++ {
		r, err := f.Allow(ctx, "k", lim)
		require.NoError(t, err)
		require.True(t, r.Allowed)
	}
	_, _ = other.Allow(ctx, "k", lim)
	r, _ := f.Allow(ctx, "k", lim)
	require.Equal(t, 0, r.Remaining, "the shared count includes the other instance's request")

	srv.Pause()
	r, err = f.Allow(ctx, "k", lim)
	require.NoError(t, err, "a paused Redis is no error to the caller")
	require.True(t, r.Allowed, "locally this is the 4th request of 4")
	require.False(t, g.Up(), "one failure trips the breaker (TripAfter 1)")
	r, _ = f.Allow(ctx, "k", lim)
	require.False(t, r.Allowed, "the local count goes on from what this instance saw")
	srv.Resume()
	require.Eventually(t, g.Up, 10*time.Second, 10*time.Millisecond, "the prober lets Redis back in")
	r, err = f.Allow(ctx, "k", lim)
	require.NoError(t, err)
	require.False(t, r.Allowed, "the shared bucket (5 of 4) decides again")

	srv.Stop()
	_, _ = f.Allow(ctx, "fresh", lim)
	require.False(t, g.Up(), "a refused connection trips it too")
	r, _ = f.Allow(ctx, "fresh", lim)
	require.True(t, r.Allowed)
	require.Equal(t, 2, r.Remaining, "counted locally")
}
