package kiln

import (
	"context"
	"time"
)

// sweepInterval is how often expired Idempotency-Key answers are deleted: a quarter of their
// lifetime, between a second and an hour.
func sweepInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/4, time.Second), time.Hour)
}

// sweep deletes expired Idempotency-Key answers until ctx ends. Every instance sweeps; the
// delete is idempotent, so several instances on one database do no harm.
// Soft-deleted records past their resource's retention are purged the same way, as often.
func (a *App) sweep(ctx context.Context) {
	t := time.NewTicker(sweepInterval(a.Spec.Server.IdempotencyTTL))
	defer t.Stop()
	p := time.NewTicker(sweepInterval(a.shortestRetention()))
	defer p.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.idem.Cleanup(ctx); err != nil && ctx.Err() == nil {
				a.log.WarnContext(ctx, "idempotency sweep failed", "error", err.Error())
			}
		case <-p.C:
			a.purge(ctx)
		}
	}
}

// purge removes soft-deleted records past retention, logging what it did.
func (a *App) purge(ctx context.Context) {
	n, err := a.purgeAll(ctx, time.Now())
	if err != nil && ctx.Err() == nil {
		a.log.WarnContext(ctx, "soft-delete purge failed", "error", err.Error())
	}
	if n > 0 {
		a.log.InfoContext(ctx, "purged soft-deleted records", "count", n)
	}
}

// purgeAll removes soft-deleted records past retention at now, in batches, until none are
// left, and returns how many went.
func (a *App) purgeAll(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		n, err := a.Service.Purge(ctx, now, purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}

// purgeBatch bounds one purge transaction, so the writer is never held for long.
const purgeBatch = 500

// shortestRetention is the smallest retention of the spec's soft-delete resources.
func (a *App) shortestRetention() time.Duration {
	out := time.Duration(0)
	for _, r := range a.Spec.Resources {
		if r.SoftDelete && (out == 0 || r.RetentionOrDefault() < out) {
			out = r.RetentionOrDefault()
		}
	}
	if out == 0 {
		return time.Hour * 4
	}
	return out
}
