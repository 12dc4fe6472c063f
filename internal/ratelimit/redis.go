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

// Guard runs Redis calls under a deadline and refuses them while Redis is out
// (redisguard.Guard).
type Guard interface {
	Do(ctx context.Context, fn func(ctx context.Context, c *redis.Client) error) error
}

// Redis is a Limiter whose buckets every instance sharing the server sees. Windows are
// timed by Redis itself (key expiry), so instances' clocks need not agree. It fails when
// Redis does: wrap it in a Fallback.
type Redis struct {
	guard  Guard
	prefix string
}

var _ Limiter = (*Redis)(nil)

// NewRedis uses guard's Redis with keys under prefix.
func NewRedis(guard Guard, prefix string) *Redis {
	return &Redis{guard: guard, prefix: prefix}
}

// Allow counts one request for key in the shared window.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	k := r.prefix + "rl:" + key + ":" + strconv.FormatInt(int64(l.Window/time.Second), 10)
	var vals []int64
	err := r.guard.Do(ctx, func(ctx context.Context, c *redis.Client) (err error) {
		vals, err = incr.Run(ctx, c, []string{k}, l.Window.Milliseconds()).Int64Slice()
		return err
	})
	if err != nil || len(vals) != 2 {
		return Result{}, fmt.Errorf("rate limit: %w", err)
	}
	return decide(vals[0], l, time.Duration(max(vals[1], 0))*time.Millisecond), nil
}
