package auth

import "context"

// sharedFailures counts failed logins in Redis while it answers, so every instance sees them,
// and in this process always. A login is blocked when either count says so; while Redis is out
// this instance's own counts decide, so back-off holds per instance (an attacker spreading
// guesses over N instances gets at most N times the budget until Redis is back).
type sharedFailures struct {
	redis *redisFailures
	local *failures
}

var _ failureCounter = (*sharedFailures)(nil)

func (f *sharedFailures) blocked(ctx context.Context, email, ip string) int {
	wait := f.local.blocked(ctx, email, ip)
	if shared, err := f.redis.blocked(ctx, email, ip); err == nil {
		wait = max(wait, shared)
	}
	return wait
}

func (f *sharedFailures) add(ctx context.Context, email, ip string) {
	f.local.add(ctx, email, ip)
	_ = f.redis.add(ctx, email, ip) // Redis out: the local count stands in (the guard logged it)
}

func (f *sharedFailures) clear(ctx context.Context, email, ip string) {
	f.local.clear(ctx, email, ip)
	_ = f.redis.clear(ctx, email, ip)
}
