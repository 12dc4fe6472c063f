package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// exercise states the limiter behaviour once for both implementations; endWindow ends every
// window the limiter has open, as time passing would.
func exercise(t *testing.T, l Limiter, endWindow func()) {
	ctx := context.Background()
	lim := Limit{Requests: 3, Window: time.Minute}
	allow := func(key string) Result {
		t.Helper()
		r, err := l.Allow(ctx, key, lim)
		require.NoError(t, err)
		return r
	}
	for i := 1; i <= 3; i++ {
		r := allow("ip:1")
		require.True(t, r.Allowed)
		require.Equal(t, 3-i, r.Remaining)
		require.Equal(t, 3, r.Limit)
		require.Positive(t, r.Reset)
		require.LessOrEqual(t, r.Reset, time.Minute)
	}
	r := allow("ip:1")
	require.False(t, r.Allowed)
	require.Zero(t, r.Remaining)
	require.Positive(t, r.Reset)
	require.True(t, allow("ip:2").Allowed, "keys have their own buckets")
	endWindow()
	r = allow("ip:1")
	require.True(t, r.Allowed, "a new window starts afresh")
	require.Equal(t, 2, r.Remaining)
}

func TestMemory(t *testing.T) {
	t.Parallel()
	clock := time.Unix(1_800_000_000, 0)
	exercise(t, NewMemory(func() time.Time { return clock }), func() { clock = clock.Add(time.Minute) })
}

// redisPrefix is a key prefix of this test's own on the shared Redis.
func redisPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kiln-test-" + hex.EncodeToString(b[:]) + ":"
}

// keys lists the keys under prefix.
func keys(t *testing.T, client *redis.Client, prefix string) []string {
	t.Helper()
	var out []string
	iter := client.Scan(context.Background(), 0, prefix+"*", 100).Iterator()
	for iter.Next(context.Background()) {
		out = append(out, iter.Val())
	}
	require.NoError(t, iter.Err())
	return out
}

// The same statement of behaviour holds on Redis. Redis times each window by its key's
// expiry, so a window ends when its key expires: endWindow expires them now.
func TestRedis(t *testing.T) {
	t.Parallel()
	g := guard(t, testdb.RedisURL(t))
	client := g.Client()
	prefix := redisPrefix()
	t.Cleanup(func() {
		for _, k := range keys(t, client, prefix) {
			client.Del(context.Background(), k)
		}
	})
	exercise(t, NewRedis(g, prefix), func() {
		ks := keys(t, client, prefix)
		require.Len(t, ks, 2, "one key per bucket")
		for _, k := range ks {
			ttl, err := client.PTTL(context.Background(), k).Result()
			require.NoError(t, err)
			require.Positive(t, ttl, "%s expires", k)
			require.LessOrEqual(t, ttl, time.Minute, "%s expires with its window", k)
			require.NoError(t, client.PExpire(context.Background(), k, 0).Err()) // now: Redis deletes it
		}
	})
}

func TestRedisSharesBuckets(t *testing.T) {
	t.Parallel()
	prefix := redisPrefix()
	ctx := context.Background()
	lim := Limit{Requests: 2, Window: time.Minute}
	a, c := NewRedis(guard(t, testdb.RedisURL(t)), prefix), NewRedis(guard(t, testdb.RedisURL(t)), prefix)
	for i, l := range []*Redis{a, c, a} {
		r, err := l.Allow(ctx, "shared", lim)
		require.NoError(t, err)
		require.Equal(t, i < 2, r.Allowed, "request %d: two limiters on one Redis count together", i+1)
	}
}

// Redis ends the window itself: once the key's expiry passes, the bucket is full again. The
// window is long (a minute) so the refusal cannot race its end; the test then moves the
// expiry to a millisecond from now and waits for Redis to act on it.
func TestRedisWindowExpires(t *testing.T) {
	t.Parallel()
	g := guard(t, testdb.RedisURL(t))
	client := g.Client()
	prefix := redisPrefix()
	l := NewRedis(g, prefix)
	ctx := context.Background()
	lim := Limit{Requests: 1, Window: time.Minute}
	r, err := l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	require.True(t, r.Allowed)
	r, err = l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	require.False(t, r.Allowed)
	ks := keys(t, client, prefix)
	require.Len(t, ks, 1)
	require.NoError(t, client.PExpire(ctx, ks[0], time.Millisecond).Err())
	require.Eventually(t, func() bool {
		n, err := client.Exists(ctx, ks[0]).Result()
		return err == nil && n == 0
	}, 5*time.Second, 5*time.Millisecond, "Redis expires the key")
	r, err = l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	require.True(t, r.Allowed, "a new window")
	require.Zero(t, r.Remaining)
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
