package testdb

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is used when KILN_TEST_REDIS_URL is unset.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// RedisURL returns the test Redis URL after checking the server answers; tests use their own
// key prefixes rather than flushing a shared server.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("KILN_TEST_REDIS_URL")
	if u == "" {
		u = DefaultRedisURL
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("KILN_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, "Redis", err)
	}
	return u
}

// Redis returns a client for the test Redis, closed on cleanup.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, _ := redis.ParseURL(RedisURL(t))
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
