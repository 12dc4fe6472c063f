package kiln_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Replays of one message sent at once are chains of attempts from the same count: the first
// to send supersedes the others (Deliver: "a replay's chain has sent it since this chain was
// enqueued: it goes on alone"), so the message goes out once more, not once per replay. Each
// chain checks the message's count of attempts, then sends, then counts its attempt: chains
// running at once all passed the check before any counted, and each sent it.
func TestConcurrentReplaysOfOneMessageSendItOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
			if n > 0 {
				time.Sleep(100 * time.Millisecond) // a receiver taking its time to answer
			}
			return http.StatusOK
		})
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		const p = "/api/admin/webhooks/order_paid"
		b.payOrder()
		waitFor(t, func() bool { return len(b.attempts("order_paid")) == 1 })
		msg := b.attempts("order_paid")[0]["message_id"].(string)
		counts := statusCounts(8, func(int) int { return b.do("POST", p+"/deliveries/"+msg+"/replay", nil).status })
		require.Equal(t, map[int]int{http.StatusAccepted: 8}, counts)
		waitFor(t, func() bool { return len(b.pendingDeliveries()) == 0 })
		time.Sleep(200 * time.Millisecond)
		require.Equal(t, 2, len(rc.deliveries()), "the delivery, then one replay's")
	})
}
