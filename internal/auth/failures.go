package auth

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
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

var (
	_ failureCounter = (*failures)(nil)
	_ failureCounter = (*redisFailures)(nil)
)

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
// whose window starts at its first failure.
type redisFailures struct {
	client *redis.Client
	prefix string
}

func (f *redisFailures) key(k string) string { return f.prefix + "login-failures:" + k }

func (f *redisFailures) blocked(ctx context.Context, email, ip string) int {
	wait := 0
	for _, k := range []string{"e:" + email, "ip:" + ip} {
		n, err := f.client.Get(ctx, f.key(k)).Int()
		if err != nil || n < maxFailures {
			continue // no counter, or Redis down: let the password check decide
		}
		if ttl, err := f.client.PTTL(ctx, f.key(k)).Result(); err == nil && int(ttl.Seconds())+1 > wait {
			wait = int(ttl.Seconds()) + 1
		}
	}
	return wait
}

func (f *redisFailures) add(ctx context.Context, email, ip string) {
	for _, k := range []string{"e:" + email, "ip:" + ip} {
		_ = countFailure.Run(ctx, f.client, []string{f.key(k)}, failureWindow.Milliseconds()).Err()
	}
}

func (f *redisFailures) clear(ctx context.Context, email, _ string) {
	_ = f.client.Del(ctx, f.key("e:"+email)).Err()
}

var countFailure = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)
