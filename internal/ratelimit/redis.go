package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// incr counts a request, starting the key's window (its expiry) on the first count, and
// returns the count and the milliseconds left, atomically.
var incr = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return {n, redis.call("PTTL", KEYS[1])}`)

// Redis is a Limiter whose buckets every instance sharing the server sees. Windows are
// timed by Redis itself (key expiry), so instances' clocks need not agree.
type Redis struct {
	client *redis.Client
	prefix string
}

var _ Limiter = (*Redis)(nil)

// NewRedis uses client with keys under prefix.
func NewRedis(client *redis.Client, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// Allow counts one request for key in the shared window.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	k := r.prefix + "rl:" + key + ":" + strconv.FormatInt(int64(l.Window/time.Second), 10)
	vals, err := incr.Run(ctx, r.client, []string{k}, l.Window.Milliseconds()).Int64Slice()
	if err != nil || len(vals) != 2 {
		return Result{}, fmt.Errorf("rate limit: %w", err)
	}
	return decide(vals[0], l, time.Duration(max(vals[1], 0))*time.Millisecond), nil
}
