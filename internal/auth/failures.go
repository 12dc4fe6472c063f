package auth

import (
	"context"
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

// failureCounter counts recent failed logins per email and per address. An attempt is counted
// as it begins, before its password is checked, so the guesses of a burst cannot all pass the
// check before any of them failed (40 concurrent guesses had 19 passwords verified against a
// budget of 10); a success takes it back.
type failureCounter interface {
	// begin counts an attempt, or refuses it: the seconds to wait (nothing counted), or 0.
	begin(ctx context.Context, email, ip string) int
	// succeed settles an attempt begun that logged in: the email's failures are cleared, and
	// the attempt no longer counts against the address.
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

func (f *failures) keys(email, ip string) []string { return []string{"e:" + email, "ip:" + ip} }

// begin refuses an attempt while either key has maxFailures in the window (the seconds until
// the oldest leaves it), and otherwise counts it for both.
func (f *failures) begin(_ context.Context, email, ip string) int {
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
	if wait > 0 {
		return wait
	}
	if len(f.seen) > maxTracked {
		f.seen = map[string][]time.Time{} // bounded memory beats perfect memory under attack
	}
	for _, k := range f.keys(email, ip) {
		f.seen[k] = append(f.seen[k], now)
	}
	return 0
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

func (f *failures) succeed(_ context.Context, email, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, "e:"+email)
	f.dropOne("ip:" + ip)
}

// undo takes back an attempt begun that another counter refused.
func (f *failures) undo(email, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys(email, ip) {
		f.dropOne(k)
	}
}

// dropOne takes the latest attempt off k's count.
func (f *failures) dropOne(k string) {
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

// begin counts an attempt for both keys in one script, or refuses it (the seconds until the
// blocking key's window ends) without counting it.
func (f *redisFailures) begin(ctx context.Context, email, ip string) (int, error) {
	wait := 0
	err := f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		ms, err := beginAttempt.Run(ctx, c, []string{f.key("e:" + email), f.key("ip:" + ip)},
			failureWindow.Milliseconds(), maxFailures).Int64()
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

func (f *redisFailures) succeed(ctx context.Context, email, ip string) error {
	return f.guard.Do(ctx, func(ctx context.Context, c *redis.Client) error {
		return settleSuccess.Run(ctx, c, []string{f.key("e:" + email), f.key("ip:" + ip)}).Err()
	})
}

// beginAttempt: the PTTL of the first key at the limit (refused: nothing counted), or -1 when
// the attempt was counted for every key (a key's window starts at its first attempt).
var beginAttempt = redis.NewScript(`
for _, k in ipairs(KEYS) do
  local n = tonumber(redis.call("GET", k) or "0")
  if n >= tonumber(ARGV[2]) then
    local ttl = redis.call("PTTL", k)
    if ttl < 0 then ttl = tonumber(ARGV[1]) end
    return ttl
  end
end
for _, k in ipairs(KEYS) do
  if redis.call("INCR", k) == 1 then redis.call("PEXPIRE", k, ARGV[1]) end
end
return -1`)

// settleSuccess clears the email's count and takes the attempt off the address's.
var settleSuccess = redis.NewScript(`
redis.call("DEL", KEYS[1])
local n = tonumber(redis.call("GET", KEYS[2]) or "0")
if n > 1 then redis.call("DECR", KEYS[2]) elseif n == 1 then redis.call("DEL", KEYS[2]) end
return 0`)
