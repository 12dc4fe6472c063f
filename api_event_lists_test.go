package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// An event shows a to-many relation as a GET does: [] when it links nothing, never null; and
// the ids it links when it does, on create, on an update that does not touch the links, and on
// delete. Live updates and webhooks send these records (a trial found "tags": null in SSE and
// webhook bodies where GET answers []).
func TestEventsShowToManyRelationsAsAGetDoes(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		tag := b.create("tags", map[string]any{"name": "red"})
		mark := b.lastEvent()
		bare := b.create("products", map[string]any{"name": "Bare", "price": "1.00"})
		tagged := b.create("products", map[string]any{"name": "Tagged", "price": "1.00", "tags": []string{tag}})
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/products/"+bare, map[string]any{"price": "2.00"}).status)
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/products/"+tagged, map[string]any{"price": "2.00"}).status)
		require.Equal(t, []any{}, b.do("GET", "/api/products/"+bare, nil).body["tags"], "GET shows no links as []")
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/products/"+bare, nil).status)
		seen := 0
		for _, ev := range b.eventsAfter(mark) {
			if ev.Resource != "products" {
				continue
			}
			want := []any{}
			if ev.RecordID == tagged {
				want = []any{tag}
			}
			for _, raw := range [][]byte{ev.Old, ev.New} {
				if rec := values(t, raw); rec != nil {
					require.Equal(t, want, rec["tags"], "%s %s: %s", ev.Operation, ev.RecordID, raw)
					seen++
				}
			}
		}
		require.Equal(t, 7, seen, "two creates, two updates (old and new), a delete")
	})
}
