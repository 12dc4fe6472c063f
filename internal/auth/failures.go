package auth

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kiln-dev/kiln/internal/redisguard"
)

// Login back-off: after maxFailures failed logins for one email, or maxAddressFailures from
// one address, within failureWindow, further attempts are refused until the oldest failure
// leaves the window. The address's budget is ten times the email's: one guessed account
// must not lock everybody behind the same address (an office's NAT) out of logging in, while
// spraying guesses over many accounts from one address is still held back.
const (
	maxFailures        = 10
	maxAddressFailures = 100
	failureWindow      = 15 * time.Minute
	maxTracked         = 100_000
)

// failureCounter counts recent failed logins per email and per address. An attempt counts
// against its email as it begins, before its password is checked, so the guesses of a burst at
// one account cannot all pass the check before any of them failed (40 concurrent guesses had 19
// passwords verified against a budget of 10); a success takes it back. Against the address only
// failures count, when they happen: twenty people behind one address logging in at once are
// no attack (counting their attempts in flight refused half of them).
type failureCounter interface {
	// begin counts an attempt against the email, or refuses it: the seconds to wait (nothing
	// counted), or 0.
	begin(ctx context.Context, email, ip string) int
	// fail settles an attempt begun that failed: it counts against the address too.
	fail(ctx context.Context, email, ip string)
	// succeed settles an attempt begun that logged in: the email's failures are cleared.
	succeed(ctx context.Context, email, ip string)
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

// begin refuses an attempt while the email has maxFailures in the window, or the address
// maxAddressFailures (the seconds until the oldest leaves it), and otherwise counts it
// against the email.
func (f *failures) begin(_ context.Context, email, ip string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	wait := 0
	for _, k := range []struct {
		key   string
		limit int
	}{{"e:" + email, maxFailures}, {"ip:" + ip, maxAddressFailures}} {
		recent := f.prune(k.key, now)
		if len(recent) >= k.limit {
			if w := int(recent[0].Add(failureWindow).Sub(now).Seconds()) + 1; w > wait {
				wait = w
			}
		}
	}
	if wait > 0 {
		return wait
	}
	f.count("e:"+email, now)
	return 0
}

// count adds an attempt at now to k's (pruned) list.
func (f *failures) count(k string, now time.Time) {
	if len(f.seen) > maxTracked {
		f.seen = map[string][]time.Time{} // bounded memory beats perfect memory under attack
	}
	f.seen[k] = append(f.seen[k], now)
}

func (f *failures) fail(_ context.Context, _, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.prune("ip:"+ip, now)
	f.count("ip:"+ip, now)
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

func (f *failures) succeed(_ context.Context, email, _ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, "e:"+email)
}

// undo takes back an attempt begun that another counter refused.
func (f *failures) undo(email string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := "e:" + email
	if list := f.seen[k]; len(list) > 1 {
		f.seen[k] = list[:len(list)-1]
	} else {
		delete(f.seen, k)
	}
}

// redisFailures counts failed logins in Redis, so every instance sees them: a counter per key
// whose window starts at its first failure. Its calls fail while Redis is out; sharedFailures
// (failures_shared.go) then lets this instance's own counts decide.
type redisFailures struct {
	guard  *redisguard.Guard
	prefix string
}

func (f *redisFailures) key(k string) string { return f.prefix + "login-failures:" + k }

// begin counts an attempt against the email in one script, or refuses it (the seconds until
// the blocking key's window ends) without counting it.
func (f *redisFailures) begin(ctx context.Context, email, ip string) (int, error) {
	wait := 0
	err := f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		ms, err := beginAttempt.Run(ctx, c, []string{f.key("e:" + email), f.key("ip:" + ip)},
			failureWindow.Milliseconds(), maxFailures, maxAddressFailures).Int64()
		if err != nil {
			return err
		}
		if ms >= 0 {
			wait = int(time.Duration(ms)*time.Millisecond/time.Second) + 1
		}
		return nil
	})
	return wait, err
}

func (f *redisFailures) fail(ctx context.Context, _, ip string) error {
	return f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		return countFailure.Run(ctx, c, []string{f.key("ip:" + ip)}, failureWindow.Milliseconds()).Err()
	})
}

func (f *redisFailures) succeed(ctx context.Context, email, _ string) error {
	return f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.Del(ctx, f.key("e:"+email)).Err()
	})
}

// beginAttempt: the PTTL of the first key at its limit (refused: nothing counted), or -1 when
// the attempt was counted against the first key, the email's (its window starts at its first
// attempt). ARGV[2] is the email's limit, ARGV[3] the address's.
var beginAttempt = redis.NewScript(`
for i, k in ipairs(KEYS) do
  local n = tonumber(redis.call("GET", k) or "0")
  if n >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call("PTTL", k)
    if ttl < 0 then ttl = tonumber(ARGV[1]) end
    return ttl
  end
end
if redis.call("INCR", KEYS[1]) == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return -1`)

var countFailure = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)
