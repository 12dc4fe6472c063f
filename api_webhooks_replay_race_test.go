package kiln_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/jobs"
)

// Replays of one message sent at once are not one send each: each replay counts the first
// attempt of its chain as it enqueues it, and a chain whose count a later replay has taken past
// stands down (Deliver: "superseded by a replay"). (Once each chain checked the count, then
// sent, then counted its attempt: chains running at once all passed the check before any
// counted, and each sent it.)
func TestConcurrentReplaysOfOneMessageSendItOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
			if n > 0 {
				time.Sleep(100 * time.Millisecond) // a receiver taking its time to answer
			}
			return http.StatusOK
		})
		var logs lockedBuffer
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc), log: slog.New(slog.NewJSONHandler(&logs, nil))})
		const p = "/api/admin/webhooks/order_paid"
		b.payOrder()
		waitFor(t, func() bool { return len(b.attempts("order_paid")) == 1 })
		msg := b.attempts("order_paid")[0]["message_id"].(string)
		counts := statusCounts(8, func(int) int { return b.do("POST", p+"/deliveries/"+msg+"/replay", nil).status })
		require.Equal(t, map[int]int{http.StatusAccepted: 8}, counts)
		waitFor(t, func() bool { return len(b.pendingDeliveries()) == 0 })
		time.Sleep(200 * time.Millisecond)
		// Each replay counts its chain's first attempt as it is enqueued; a chain whose count was
		// taken past by a later replay stands down, saying so. One whose first attempt ran before
		// the next replay landed rightly sends (on a slow machine the eight do not all land before
		// the first chain runs): the delivery, then one per replay that did not stand down — the
		// last one always sends.
		require.Len(t, replayedFrom(t, b, msg), 8, "every replay counted an attempt of its own")
		stood := strings.Count(logs.String(), `"msg":"webhook delivery superseded by a replay","message_id":"`+msg+`"`)
		require.Less(t, stood, 8, "the last replay sends")
		require.Equal(t, 1+8-stood, len(rc.deliveries()), "the delivery, then one per replay that did not stand down")
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
