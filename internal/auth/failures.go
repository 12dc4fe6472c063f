package auth

import (
	"sync"
	"time"
)

// Login back-off: after maxFailures failed logins for one email or one address within
// failureWindow, further attempts are refused until the oldest failure leaves the window.
const (
	maxFailures   = 10
	failureWindow = 15 * time.Minute
	maxTracked    = 100_000
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
func (f *failures) blocked(email, ip string) int {
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

func (f *failures) add(email, ip string) {
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

func (f *failures) clear(email, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, "e:"+email)
}
