package kiln

import (
	"github.com/kiln-dev/kiln/internal/ratelimit"
	"github.com/kiln-dev/kiln/internal/redisguard"
)

// connectRedis opens the spec's Redis, if it names one; instances share rate-limit buckets
// and failed-login counts through it. A Redis that does not answer does not stop the start:
// the instance warns and uses its in-process limits until Redis is back (docs/scaling.md).
func (a *App) connectRedis(cfg Config) error {
	rc := a.Spec.Redis
	if rc.URL == "" {
		return nil
	}
	redisguard.RouteClientLogs(cfg.Logger)
	g, err := redisguard.Open(redisguard.Config{URL: rc.URL, Timeout: rc.Timeout, TripAfter: rc.TripAfter,
		ProbeInterval: rc.ProbeInterval, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	a.redis = g
	a.closers = append(a.closers, g.Close)
	return nil
}

// limiter keeps rate-limit buckets in Redis when there is one (in this process while Redis is
// out), in this process otherwise.
func (a *App) limiter() ratelimit.Limiter {
	if a.redis == nil {
		return ratelimit.NewMemory(nil)
	}
	return ratelimit.NewFallback(ratelimit.NewRedis(a.redis, a.Spec.Redis.Prefix), ratelimit.NewMemory(nil))
}
