package kiln_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Carts keep rollups over their lines; an action on a cart updates one of its lines, and a
// line's update touches its cart through an effect. Each write reaches the other record from
// its own side.
const lockOrderSpec = `resources:
  carts:
    fields:
      total: {type: integer, rollup: {sum: qty, of: lines}}
      n: {type: integer, rollup: {count: true, of: lines}}
      bumps: {type: integer, default: 0}
      touched: {type: integer, default: 0}
      lines: {type: relation, to: lines, inverse: cart}
    actions:
      bump:
        access: public
        input:
          line: {type: string, required: true}
        steps:
          - set: {bumps: "record.bumps + 1"}
          - update: lines
            id: input.line
            values: {qty: "1"}
    access: {list: public, view: public, create: public, update: public, delete: public}
  lines:
    soft_delete: true
    fields:
      qty: {type: integer, required: true, min: 0}
      note: {type: string, default: "-"}
      cart: {type: relation, to: carts, required: true}
    effects:
      - name: touch
        on: [update]
        when: "record.note != old.note"
        update: carts
        id: record.cart
        set: {touched: "target.touched + 1"}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// cartAddsUp checks a cart's rollups (total, n) against its live lines as stored.
func cartAddsUp(t *testing.T, b *testBundle, cart string) {
	t.Helper()
	got := b.do("GET", "/api/carts/"+cart, nil)
	require.Equal(t, http.StatusOK, got.status, string(got.raw))
	sum, n := linesOf(t, b, cart)
	require.Equal(t, sum, num(t, got.body["total"]), string(got.raw))
	require.Equal(t, n, num(t, got.body["n"]), string(got.raw))
}

// Concurrent creates of one cart's lines all land: each insert holds PostgreSQL's share lock
// on the cart for its foreign key, and the rollup's lock of the cart took FOR UPDATE, which
// waits for those share locks, so every pair deadlocked (15 of 16 answered 503).
func TestConcurrentChildrenOfOneParentAllLand(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, lockOrderSpec)
		cart := b.create("carts", map[string]any{})
		counts := statusCounts(16, func(i int) int {
			return b.do("POST", "/api/lines", map[string]any{"cart": cart, "qty": 1 + i}).status
		})
		require.Equal(t, map[int]int{http.StatusCreated: 16}, counts)
		cartAddsUp(t, b, cart)
	})
}

// An action on a cart whose step updates a line (cart, then line), run at once with updates
// of those lines that refresh the cart's rollups or touch it through an effect (line, then
// cart), and with deletes of other lines, then with their restores: every write lands. A line's write locks its cart
// first, so all of them lock parent before child; on PostgreSQL they deadlocked and many
// answered 503 after the retries.
func TestWritesReachingParentAndChildFromBothSidesAllLand(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, lockOrderSpec)
		for range 2 {
			cart := b.create("carts", map[string]any{})
			var lines []string
			for range 16 {
				lines = append(lines, b.create("lines", map[string]any{"cart": cart, "qty": 2}))
			}
			counts := statusCounts(24, func(i int) int {
				switch i % 3 {
				case 0:
					return b.do("POST", "/api/carts/"+cart+"/bump", map[string]any{"line": lines[i/3]}).status
				case 1:
					return b.do("PATCH", "/api/lines/"+lines[i/3], map[string]any{"qty": 5, "note": fmt.Sprint(i)}).status
				default:
					return b.do("DELETE", "/api/lines/"+lines[8+i/3], nil).status
				}
			})
			require.Equal(t, map[int]int{http.StatusOK: 16, http.StatusNoContent: 8}, counts)
			cartAddsUp(t, b, cart)
			// the deleted lines come back while actions and updates reach the others
			counts = statusCounts(24, func(i int) int {
				switch i % 3 {
				case 0:
					return b.do("POST", "/api/carts/"+cart+"/bump", map[string]any{"line": lines[i/3]}).status
				case 1:
					return b.do("PATCH", "/api/lines/"+lines[i/3], map[string]any{"qty": 7}).status
				default:
					return b.do("POST", "/api/lines/"+lines[8+i/3]+"/restore", nil).status
				}
			})
			require.Equal(t, map[int]int{http.StatusOK: 24}, counts)
			cartAddsUp(t, b, cart)
			got := b.do("GET", "/api/carts/"+cart, nil)
			require.Equal(t, "16", string(got.body["bumps"].(json.Number)), string(got.raw))
			require.Equal(t, "8", string(got.body["touched"].(json.Number)), string(got.raw))
		}
	})
}
