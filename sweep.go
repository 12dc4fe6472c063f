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
func (a *App) sweep(ctx context.Context) {
	t := time.NewTicker(sweepInterval(a.Spec.Server.IdempotencyTTL))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.idem.Cleanup(ctx); err != nil && ctx.Err() == nil {
				a.log.WarnContext(ctx, "idempotency sweep failed", "error", err.Error())
			}
		}
	}
}
