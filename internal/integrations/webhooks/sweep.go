package webhooks

import (
	"context"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// Retention is how long finished messages with their delivery log, and the event ids of
// incoming webhooks, are kept (Stripe retries an event for up to three days).
const Retention = 30 * 24 * time.Hour

// Sweep deletes what is older than before: delivered and failed messages with their
// attempts, and received event ids. Messages still being tried are kept. Idempotent, so
// every instance may sweep.
func (w *Webhooks) Sweep(ctx context.Context, before time.Time) error {
	cut := before.UnixMicro()
	var stmts []string
	if w.Enabled() {
		stmts = append(stmts,
			"DELETE FROM kiln_webhook_attempts WHERE message_id IN (SELECT id FROM kiln_webhook_messages WHERE created_at < ? AND state IN ('delivered', 'failed'))",
			"DELETE FROM kiln_webhook_messages WHERE created_at < ? AND state IN ('delivered', 'failed')")
	}
	if len(w.incoming) > 0 {
		stmts = append(stmts, "DELETE FROM kiln_webhook_inbox WHERE created_at < ?")
	}
	return w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		for _, q := range stmts {
			if err := tx.ExecRaw(ctx, q, cut); err != nil {
				return fmt.Errorf("sweep webhooks: %w", err)
			}
		}
		return nil
	})
}
