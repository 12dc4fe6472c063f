package ratelimit

import "context"

// Fallback decides with a shared limiter (Redis) while it answers and with a local one
// (Memory) when it does not. The local limiter counts every request, so when the shared one
// goes away mid-window each instance carries on from what it has seen itself: while Redis is
// out a limit holds per instance (N instances let through at most N times the limit).
type Fallback struct {
	shared, local Limiter
}

var _ Limiter = (*Fallback)(nil)

// NewFallback combines a shared and a local limiter.
func NewFallback(shared, local Limiter) *Fallback { return &Fallback{shared: shared, local: local} }

// Allow counts the request in both and answers with the shared decision when there is one.
func (f *Fallback) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	local, err := f.local.Allow(ctx, key, l)
	if res, serr := f.shared.Allow(ctx, key, l); serr == nil {
		return res, nil
	}
	return local, err
}
