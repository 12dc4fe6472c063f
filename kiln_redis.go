package kiln

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kiln-dev/kiln/internal/ratelimit"
)

// limiter picks where rate-limit buckets live: Redis when the spec names one (shared by every
// instance), this process otherwise.
func (a *App) limiter(ctx context.Context) (ratelimit.Limiter, error) {
	rc := a.Spec.Redis
	if rc.URL == "" {
		return ratelimit.NewMemory(nil), nil
	}
	opts, err := redis.ParseURL(rc.URL)
	if err != nil {
		return nil, errors.New("redis.url is not a valid redis:// URL") // the URL may hold a password
	}
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connect redis at %s: %w", opts.Addr, err)
	}
	a.closers = append(a.closers, client.Close)
	return ratelimit.NewRedis(client, rc.Prefix), nil
}
