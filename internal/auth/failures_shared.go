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

func (f *sharedFailures) begin(ctx context.Context, email, ip string) int {
	if wait := f.local.begin(ctx, email, ip); wait > 0 {
		return wait
	}
	shared, err := f.redis.begin(ctx, email, ip)
	if err == nil && shared > 0 {
		f.local.undo(email) // refused: it counts nowhere
		return shared
	}
	return 0 // Redis out: the local count stands in (the guard logged it)
}

func (f *sharedFailures) fail(ctx context.Context, email, ip string) {
	f.local.fail(ctx, email, ip)
	_ = f.redis.fail(ctx, email, ip)
}

func (f *sharedFailures) succeed(ctx context.Context, email, ip string) {
	f.local.succeed(ctx, email, ip)
	_ = f.redis.succeed(ctx, email, ip)
}
