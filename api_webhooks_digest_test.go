package kiln_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/store"
)

// A write matches its event against the subscriptions its own transaction sees, also when
// another instance changed them (here: changed in the database, behind this process's back),
// and reads them only when they changed: the event's insert returns their digest.
func TestWebhookMatchSeesSubscriptionsChangedElsewhere(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusOK })
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		ctx := context.Background()
		exec := func(q string, args ...any) {
			require.NoError(t, b.app.Store.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, q, args...) }))
		}
		messages := func() int64 { return b.rawCount("kiln_webhook_messages") }
		b.product("Cup", "5", 5)
		hits := kiln.WebhookCacheHits(b.app)
		b.product("Cup", "5", 5)
		require.Equal(t, hits+1, kiln.WebhookCacheHits(b.app), "an unchanged set is not read again")
		require.Zero(t, messages(), "order_paid matches orders.update only")

		exec(`UPDATE kiln_webhooks SET events = '["products.create"]', condition = NULL WHERE name = 'order_paid'`)
		b.product("Plate", "5", 5)
		require.Equal(t, int64(1), messages(), "the changed subscription matched the next write")

		exec(`UPDATE kiln_webhooks SET disabled_at = ? WHERE name = 'order_paid'`, time.Now().UnixMicro())
		b.product("Plate", "5", 5)
		require.Equal(t, int64(1), messages(), "a disabled subscription matches nothing")

		// Texts with the digest's own separators, and characters of several bytes.
		now := time.Now().UnixMicro()
		exec(`INSERT INTO kiln_webhooks (name, source, url, events, condition, event_type, secret, created_at, updated_at)
			VALUES ('odd:1;2', 'api', 'http://127.0.0.1:9/x', '["products.create"]', 'new.name == "a;b:ç3:"', 'ç;:', 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=', ?, ?)`, now, now)
		b.product("a;b:ç3:", "5", 5)
		require.Equal(t, int64(2), messages())
		hits = kiln.WebhookCacheHits(b.app)
		b.product("other", "5", 5)
		b.product("a;b:ç3:", "5", 5)
		require.Equal(t, int64(3), messages())
		require.Equal(t, hits+2, kiln.WebhookCacheHits(b.app), "the digest read in SQL is the digest of the set read")

		exec(`UPDATE kiln_webhooks SET condition = 'new.name == "other"' WHERE name = 'odd:1;2'`)
		b.product("a;b:ç3:", "5", 5)
		b.product("other", "5", 5)
		require.Equal(t, int64(4), messages(), "a changed condition applies to the next write")

		// A PATCH written blind on PostgreSQL (store.Exec.UpdateBlind) is made under the digest too.
		cup := b.product("Cup", "5", 5)
		patch := func(price string) {
			t.Helper()
			res := b.do("PATCH", "/api/products/"+cup, map[string]any{"price": price})
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
		}
		blind := b.app.Store.Blind()
		patch("6")
		if dialect == "postgres" {
			require.Equal(t, blind+1, b.app.Store.Blind(), "no subscription matches: written blind")
		}
		now = time.Now().UnixMicro()
		exec(`INSERT INTO kiln_webhooks (name, source, url, events, event_type, secret, created_at, updated_at)
			VALUES ('prices', 'api', 'http://127.0.0.1:9/x', '["products.update"]', 'price', 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=', ?, ?)`, now, now)
		sent := messages()
		patch("7")
		require.Equal(t, sent+1, messages(), "the subscription made elsewhere matched the PATCH")
	})
}
