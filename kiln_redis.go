package kiln

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kiln-dev/kiln/internal/ratelimit"
)

// connectRedis opens the spec's Redis, if it names one; instances share rate-limit buckets
// and failed-login counts through it.
func (a *App) connectRedis(ctx context.Context) error {
	rc := a.Spec.Redis
	if rc.URL == "" {
		return nil
	}
	opts, err := redis.ParseURL(rc.URL)
	if err != nil {
		return errors.New("redis.url is not a valid redis:// URL") // the URL may hold a password
	}
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return fmt.Errorf("connect redis at %s: %w", opts.Addr, err)
	}
	a.redis = client
	a.closers = append(a.closers, client.Close)
	return nil
}

// limiter keeps rate-limit buckets in Redis when there is one, in this process otherwise.
func (a *App) limiter() ratelimit.Limiter {
	if a.redis == nil {
		return ratelimit.NewMemory(nil)
	}
	return ratelimit.NewRedis(a.redis, a.Spec.Redis.Prefix)
}
