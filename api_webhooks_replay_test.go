package kiln_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A message replayed while it waits for a retry is sent once: the replay's attempt delivers
// it, and the older chain's retry, due later, finds it sent since and stops (it delivered it a
// second time, and a late failure of it could mark the delivered message failed; a helper's
// trial found it).
func TestReplayWhileARetryWaitsDeliversOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
			if n == 0 {
				w.Header().Set("Retry-After", "2") // the retry waits two seconds
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		const p = "/api/admin/webhooks/order_paid"
		b.payOrder()
		// the first attempt is logged once it was answered: the receiver hears it before
		waitFor(t, func() bool { return len(b.attempts("order_paid")) == 1 })
		msg := b.attempts("order_paid")[0]["message_id"].(string)
		res := b.do("POST", p+"/deliveries/"+msg+"/replay", nil)
		require.Equal(t, http.StatusAccepted, res.status, string(res.raw))
		waitFor(t, func() bool { return len(rc.deliveries()) == 2 })
		waitFor(t, func() bool { return len(b.pendingDeliveries()) == 0 }) // the old chain's retry has run
		got := rc.deliveries()
		require.Equal(t, 2, len(got), "one failure, then one delivery")
		require.Equal(t, http.StatusOK, got[1].status)
		require.Equal(t, got[0].header.Get("webhook-id"), got[1].header.Get("webhook-id"))
		rows, err := b.app.Store.Reader().QueryRaw(context.Background(), "SELECT state FROM kiln_webhook_messages WHERE id = ?", msg)
		require.NoError(t, err)
		defer rows.Close()
		var state string
		require.True(t, rows.Next())
		require.NoError(t, rows.Scan(&state))
		require.Equal(t, "delivered", state, "the superseded retry left the message as the replay did")
	})
}
