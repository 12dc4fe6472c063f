package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Concurrent runs of one action on one record run one after the other: the action reads its
// record locked, so the second sees the first one's state. On PostgreSQL the record was read
// without a lock, every run's assert and state check saw the state before any of them, and
// several runs answered 200 and each wrote its action event (a ticket refunded five times of
// eight, found by hand with internal/derive/testdata/tickets.yaml); the set's own update,
// which locks, saw the state already set, which is no change.
func TestConcurrentRunsOfAnActionOnOneRecordRunOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		a := b.product("A", "3", 10)
		ann := bearer(b.token("customer"))
		for range 3 {
			order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(a, 1)}}, ann...)
			require.Equal(t, http.StatusCreated, order.status)
			id := order.body["id"].(string)
			from := b.lastEvent()
			counts := statusCounts(8, func(int) int {
				return b.do("POST", "/api/orders/"+id+"/cancel", nil, ann...).status
			})
			require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusConflict: 7}, counts)
			runs := 0
			for _, ev := range b.eventsAfter(from) {
				if ev.RecordID == id && ev.Action == "cancel" {
					runs++
				}
			}
			require.Equal(t, 1, runs, "one cancel event")
		}
		require.Equal(t, "10", b.stock(a), "each order's stock back once")
	})
}
