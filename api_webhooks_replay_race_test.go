package kiln_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/jobs"
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
		// A replay that reads the count after a chain claimed its attempt replays from the new
		// count and rightly sends again (on a slow machine the eight do not all land before the
		// first chain runs): one send per count replayed from, not one per replay.
		require.Equal(t, 1+len(replayedFrom(t, b, msg)), len(rc.deliveries()), "the delivery, then one per count replayed from")
	})
}

// replayedFrom lists the attempt counts the replay chains of message msg began from.
func replayedFrom(t *testing.T, b *testBundle, msg string) map[int]bool {
	t.Helper()
	list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "webhook.deliver", Limit: 500})
	require.NoError(t, err)
	from := map[int]bool{}
	for _, j := range list {
		var a struct {
			Message string `json:"message"`
			From    int    `json:"from"`
		}
		require.NoError(t, json.Unmarshal(j.Args, &a))
		if a.Message == msg && a.From > 0 {
			from[a.From] = true
		}
	}
	require.NotEmpty(t, from)
	return from
}
