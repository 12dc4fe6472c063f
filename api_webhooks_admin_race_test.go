package kiln_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Administrators changing different fields of one subscription at once each keep their
// change: PATCH reads the subscription and writes every field back, so it must read it
// locked — read without a lock on PostgreSQL, a PATCH of type wrote back the url as it was
// before a concurrent PATCH of the url, undoing it.
func TestConcurrentWebhookPatchesOfDifferentFieldsAllLand(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusNoContent })
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		const p = "/api/admin/webhooks"
		require.Equal(t, http.StatusCreated, b.do("POST", p, map[string]any{"name": "crm", "url": rc.srv.URL + "/start", "events": []string{"orders.*"}}).status)
		lost := 0
		for round := range 8 {
			urls := map[string]bool{}
			types := map[string]bool{}
			for i := range 8 {
				urls[fmt.Sprintf("%s/r%d-%d", rc.srv.URL, round, i)] = true
				types[fmt.Sprintf("crm.r%d-%d", round, i)] = true
			}
			counts := statusCounts(16, func(i int) int {
				if i%2 == 0 {
					return b.do("PATCH", p+"/crm", map[string]any{"url": fmt.Sprintf("%s/r%d-%d", rc.srv.URL, round, i/2)}).status
				}
				return b.do("PATCH", p+"/crm", map[string]any{"type": fmt.Sprintf("crm.r%d-%d", round, i/2)}).status
			})
			require.Equal(t, map[int]int{http.StatusOK: 16}, counts)
			got := b.do("GET", p+"/crm", nil).body
			if !urls[fmt.Sprint(got["url"])] || !types[fmt.Sprint(got["type"])] {
				lost++
				t.Logf("round %d: url %v, type %v: a PATCH was undone", round, got["url"], got["type"])
			}
		}
		assert.Zero(t, lost, "rounds where a PATCH was undone by another")
	})
}
