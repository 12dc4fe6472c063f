package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kiln-dev/kiln/internal/redisguard"
)

// Login back-off: after maxFailures failed logins for one email or one address within
// failureWindow, further attempts are refused until the oldest failure leaves the window.
const (
	maxFailures   = 10
	failureWindow = 15 * time.Minute
	maxTracked    = 100_000
)

// failureCounter counts recent failed logins per email and per address.
type failureCounter interface {
	blocked(ctx context.Context, email, ip string) int // seconds to wait, or 0
	add(ctx context.Context, email, ip string)
	clear(ctx context.Context, email, ip string)
}

var _ failureCounter = (*failures)(nil)

// failures counts recent failed logins in memory (per instance).
type failures struct {
	mu   sync.Mutex
	now  func() time.Time
	seen map[string][]time.Time
}

func newFailures(now func() time.Time) *failures {
	return &failures{now: now, seen: map[string][]time.Time{}}
}

func (f *failures) keys(email, ip string) []string { return []string{"e:" + email, "ip:" + ip} }

// blocked returns how many seconds to wait, or 0.
func (f *failures) blocked(_ context.Context, email, ip string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	wait := 0
	for _, k := range f.keys(email, ip) {
		recent := f.prune(k, now)
		if len(recent) >= maxFailures {
			if w := int(recent[0].Add(failureWindow).Sub(now).Seconds()) + 1; w > wait {
				wait = w
			}
		}
	}
	return wait
}

func (f *failures) prune(k string, now time.Time) []time.Time {
	list := f.seen[k]
	i := 0
	for i < len(list) && now.Sub(list[i]) > failureWindow {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(f.seen, k)
		return nil
	}
	f.seen[k] = list
	return list
}

func (f *failures) add(_ context.Context, email, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) > maxTracked {
		f.seen = map[string][]time.Time{} // bounded memory beats perfect memory under attack
	}
	now := f.now()
	for _, k := range f.keys(email, ip) {
		f.seen[k] = append(f.prune(k, now), now)
	}
}

func (f *failures) clear(_ context.Context, email, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, "e:"+email)
}

// redisFailures counts failed logins in Redis, so every instance sees them: a counter per key
// whose window starts at its first failure. Its calls fail while Redis is out; sharedFailures
// (failures_shared.go) then lets this instance's own counts decide.
type redisFailures struct {
	guard  *redisguard.Guard
	prefix string
}

func (f *redisFailures) key(k string) string { return f.prefix + "login-failures:" + k }

func (f *redisFailures) blocked(ctx context.Context, email, ip string) (int, error) {
	wait := 0
	err := f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		for _, k := range []string{"e:" + email, "ip:" + ip} {
			n, err := c.Get(ctx, f.key(k)).Int()
			if errors.Is(err, redis.Nil) || (err == nil && n < maxFailures) {
				continue
			}
			if err != nil {
				return err
			}
			ttl, err := c.PTTL(ctx, f.key(k)).Result()
			if err != nil {
				return err
			}
			wait = max(wait, int(ttl.Seconds())+1)
		}
		return nil
	})
	return wait, err
}

func (f *redisFailures) add(ctx context.Context, email, ip string) error {
	return f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		for _, k := range []string{"e:" + email, "ip:" + ip} {
			if err := countFailure.Run(ctx, c, []string{f.key(k)}, failureWindow.Milliseconds()).Err(); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *redisFailures) clear(ctx context.Context, email, _ string) error {
	return f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.Del(ctx, f.key("e:"+email)).Err()
	})
}

var countFailure = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)
