package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/testdb"
)

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
	client := testdb.Redis(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "kiln-test-" + hex.EncodeToString(b[:]) + ":"
	ctx := context.Background()
	lim := Limit{Requests: 2, Window: time.Minute}
	a, c := NewRedis(client, prefix), NewRedis(redis.NewClient(client.Options()), prefix)
	r1, _ := a.Allow(ctx, "shared", lim)
	r2, _ := c.Allow(ctx, "shared", lim)
	r3, _ := a.Allow(ctx, "shared", lim)
	require.True(t, r1.Allowed && r2.Allowed)
	require.False(t, r3.Allowed, "two limiters on one Redis count together")
}

func TestRedisWindowExpires(t *testing.T) {
	t.Parallel()
	client := testdb.Redis(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	l := NewRedis(client, "kiln-test-"+hex.EncodeToString(b[:])+":")
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
