package kiln_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Concurrent write shapes on PostgreSQL, from a hostile review of writes locking parent
// before child (d178b0b): nested orders naming the same products in opposite orders (the
// shop's own checkout deadlocked, 14 of 16 answered 503), a child with two rollup parents
// created and updated at once, a create whose effect and rollup lock in another order than
// an update's, rules reading the parent beside actions on it, a soft-deleted parent taking
// new children; and shapes that held. Each failed 3 of 3 runs (the rules one intermittently)
// before creates and nested children locked ahead too. Each runs on PostgreSQL only:
// SQLite's single writer serializes them.

// onPostgres runs fn against PostgreSQL.
func onPostgres(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t) })
}

// failures records the bodies of 5xx answers (one per status), to show what went wrong.
type failures struct {
	mu   sync.Mutex
	seen map[int]string
}

func (f *failures) note(r response) int {
	if r.status >= 400 {
		f.mu.Lock()
		if f.seen == nil {
			f.seen = map[int]string{}
		}
		if _, ok := f.seen[r.status]; !ok {
			f.seen[r.status] = string(r.raw)
		}
		f.mu.Unlock()
	}
	return r.status
}

func (f *failures) log(t *testing.T) {
	for s, body := range f.seen {
		t.Logf("a %d answered: %s", s, body)
	}
}

func num(t *testing.T, v any) int {
	t.Helper()
	if v == nil {
		return 0 // a rollup no child write refreshed yet
	}
	n, err := v.(json.Number).Int64()
	require.NoError(t, err)
	return int(n)
}

// linesOf lists the live lines of cart: sum of qty and count.
func linesOf(t *testing.T, b *testBundle, cart string) (sum, n int) {
	t.Helper()
	lines := b.do("GET", "/api/lines?limit=100&filter="+url.QueryEscape(`cart == "`+cart+`"`), nil)
	require.Equal(t, http.StatusOK, lines.status, string(lines.raw))
	for _, l := range lines.body["items"].([]any) {
		sum, n = sum+num(t, l.(map[string]any)["qty"]), n+1
	}
	return sum, n
}

// ---------------------------------------------------------------------------------------
// 1. Nested creates whose children's effects change shared records in opposite orders.

const reviewShopSpec = `resources:
  products:
    fields:
      stock: {type: integer, min: 0, default: 1000}
    access: {list: public, view: public, create: public, update: public, delete: public}
  orders:
    fields:
      total: {type: integer, rollup: {sum: qty, of: items}}
      n: {type: integer, rollup: {count: true, of: items}}
      bumps: {type: integer, default: 0}
      items: {type: relation, to: items, inverse: order, nested: true}
    actions:
      bump:
        access: public
        input:
          item: {type: string, required: true}
        steps:
          - set: {bumps: "record.bumps + 1"}
          - update: items
            id: input.item
            values: {qty: "1"}
    access: {list: public, view: public, create: public, update: public, delete: public}
  items:
    fields:
      qty: {type: integer, required: true, min: 0}
      order: {type: relation, to: orders, required: true}
      product: {type: relation, to: products, required: true}
    effects:
      - name: take_stock
        on: [create]
        update: products
        id: record.product
        set: {stock: "target.stock - record.qty"}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// Orders placed at once with the same two products in opposite orders: each item's effect
// locks its product when the item is written, so one order holds p1 and waits for p2, the
// other holds p2 and waits for p1.
func TestLockReviewNestedOrdersWithProductsInOppositeOrder(t *testing.T) {
	nestedOrders(t, true)
}

// The control: the same orders with their items in one order all land.
func TestLockReviewNestedOrdersWithProductsInOneOrder(t *testing.T) {
	nestedOrders(t, false)
}

func nestedOrders(t *testing.T, opposite bool) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", reviewShopSpec)
		p1 := b.create("products", map[string]any{})
		p2 := b.create("products", map[string]any{})
		var f failures
		counts := statusCounts(20, func(i int) int {
			items := []any{map[string]any{"product": p1, "qty": 1}, map[string]any{"product": p2, "qty": 1}}
			if opposite && i%2 == 1 {
				items[0], items[1] = items[1], items[0]
			}
			return f.note(b.do("POST", "/api/orders", map[string]any{"items": items}))
		})
		f.log(t)
		ok := counts[http.StatusCreated]
		for _, p := range []string{p1, p2} {
			got := b.do("GET", "/api/products/"+p, nil)
			require.Equal(t, 1000-ok, num(t, got.body["stock"]), "stock of %s with %d orders in: %v", p, ok, counts)
		}
		require.Equal(t, map[int]int{http.StatusCreated: 20}, counts)
	})
}

// The shop example's own checkout: customers ordering the same two products, half of them
// listing them the other way round.
func TestLockReviewShopOrdersWithProductsInOppositeOrder(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", "")
		p1, p2 := b.product("A", "1", 1000), b.product("B", "1", 1000)
		tokens := make([][]string, 16)
		for i := range tokens {
			tokens[i] = bearer(b.token("customer"))
		}
		var f failures
		counts := statusCounts(len(tokens), func(i int) int {
			items := []any{item(p1, 1), item(p2, 1)}
			if i%2 == 1 {
				items[0], items[1] = items[1], items[0]
			}
			return f.note(b.do("POST", "/api/orders", map[string]any{"items": items}, tokens[i]...))
		})
		f.log(t)
		ok := counts[http.StatusCreated]
		require.Equal(t, fmt.Sprint(1000-ok), b.stock(p1))
		require.Equal(t, fmt.Sprint(1000-ok), b.stock(p2))
		require.Equal(t, map[int]int{http.StatusCreated: 16}, counts)
	})
}

// Nested creates of orders at once with creates, updates and deletes of another order's
// items and actions on that order.
func TestLockReviewNestedCreatesBesideChildWritesAndActions(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", reviewShopSpec)
		p := b.create("products", map[string]any{})
		order := b.create("orders", map[string]any{})
		var items []string
		for range 12 {
			items = append(items, b.create("items", map[string]any{"order": order, "product": p, "qty": 2}))
		}
		var f failures
		counts := statusCounts(24, func(i int) int {
			switch i % 6 {
			case 0:
				return f.note(b.do("POST", "/api/orders", map[string]any{"items": []any{
					map[string]any{"product": p, "qty": 1}, map[string]any{"product": p, "qty": 2}}}))
			case 1:
				return f.note(b.do("POST", "/api/items", map[string]any{"order": order, "product": p, "qty": 3}))
			case 2:
				return f.note(b.do("PATCH", "/api/items/"+items[i/6], map[string]any{"qty": 7}))
			case 3:
				return f.note(b.do("DELETE", "/api/items/"+items[4+i/6], nil))
			case 4:
				return f.note(b.do("POST", "/api/orders/"+order+"/bump", map[string]any{"item": items[8+i/6]}))
			default:
				return f.note(b.do("PATCH", "/api/orders/"+order, map[string]any{"bumps": 100 + i}))
			}
		})
		f.log(t)
		require.Equal(t, map[int]int{http.StatusCreated: 8, http.StatusOK: 12, http.StatusNoContent: 4}, counts)
		got := b.do("GET", "/api/orders/"+order, nil)
		list := b.do("GET", "/api/items?limit=100&filter="+url.QueryEscape(`order == "`+order+`"`), nil)
		sum, n := 0, 0
		for _, it := range list.body["items"].([]any) {
			sum, n = sum+num(t, it.(map[string]any)["qty"]), n+1
		}
		require.Equal(t, sum, num(t, got.body["total"]), string(got.raw))
		require.Equal(t, n, num(t, got.body["n"]), string(got.raw))
	})
}

// ---------------------------------------------------------------------------------------
// 3. Deleting a parent at once with writes of its children.

const reviewCartSpec = `resources:
  carts:
    fields:
      total: {type: integer, rollup: {sum: qty, of: lines}}
      n: {type: integer, rollup: {count: true, of: lines}}
      bumps: {type: integer, default: 0}
      touched: {type: integer, default: 0}
      open: {type: boolean, default: true}
      lines: {type: relation, to: lines, inverse: cart, nested: true}
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
    fields:
      qty: {type: integer, required: true, min: 0}
      note: {type: string, default: "-"}
      cart: {type: relation, to: carts, CARTREQ}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

func cartSpec(required bool) string {
	if required {
		return reviewReplace(reviewCartSpec, "CARTREQ", "required: true")
	}
	return reviewReplace(reviewCartSpec, "CARTREQ", "description: optional")
}

func reviewReplace(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("no " + old)
}

// A cart without lines deleted at once with creates of its lines (required relation: a
// line's create after the delete is refused), updates of another cart's lines moving to it
// and nested creates: 204 for the delete, 201 or a clean 4xx for the others, never 5xx.
func TestLockReviewDeleteEmptyParentBesideChildCreates(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", cartSpec(true))
		for round := range 3 {
			cart := b.create("carts", map[string]any{})
			other := b.create("carts", map[string]any{})
			var lines []string
			for range 9 {
				lines = append(lines, b.create("lines", map[string]any{"cart": other, "qty": 1}))
			}
			var f failures
			counts := statusCounts(20, func(i int) int {
				switch {
				case i == 0:
					return f.note(b.do("DELETE", "/api/carts/"+cart, nil))
				case i%2 == 1:
					return f.note(b.do("POST", "/api/lines", map[string]any{"cart": cart, "qty": 2}))
				default:
					return f.note(b.do("PATCH", "/api/lines/"+lines[i/2-1], map[string]any{"cart": cart}))
				}
			})
			f.log(t)
			t.Logf("round %d: %v", round, counts)
			for s := range counts {
				require.Less(t, s, 500, "%v", counts)
			}
			got := b.do("GET", "/api/carts/"+cart, nil)
			if got.status == http.StatusOK {
				sum, n := linesOf(t, b, cart)
				require.Equal(t, sum, num(t, got.body["total"]))
				require.Equal(t, n, num(t, got.body["n"]))
			} else {
				sum, n := linesOf(t, b, cart)
				require.Equal(t, 0, n+sum, "lines of a deleted cart")
			}
			cartAddsUp(t, b, other)
		}
	})
}

// A cart with lines (optional relation: its delete sets their cart to null) deleted at once
// with updates, deletes, creates of its lines and actions on it.
func TestLockReviewDeleteParentBesideChildWrites(t *testing.T) {
	for _, required := range []bool{false, true} {
		t.Run(fmt.Sprint("required=", required), func(t *testing.T) {
			onPostgres(t, func(t *testing.T) {
				b := setup(t, "postgres", cartSpec(required))
				for round := range 3 {
					cart := b.create("carts", map[string]any{})
					var lines []string
					for range 12 {
						lines = append(lines, b.create("lines", map[string]any{"cart": cart, "qty": 2}))
					}
					var f failures
					counts := statusCounts(21, func(i int) int {
						switch {
						case i == 20:
							return f.note(b.do("DELETE", "/api/carts/"+cart, nil))
						case i%5 == 0:
							return f.note(b.do("PATCH", "/api/lines/"+lines[i/5], map[string]any{"qty": 9}))
						case i%5 == 1:
							return f.note(b.do("DELETE", "/api/lines/"+lines[4+i/5], nil))
						case i%5 == 2:
							return f.note(b.do("POST", "/api/lines", map[string]any{"cart": cart, "qty": 3}))
						case i%5 == 3:
							return f.note(b.do("POST", "/api/carts/"+cart+"/bump", map[string]any{"line": lines[8+i/5]}))
						default:
							return f.note(b.do("PATCH", "/api/lines/"+lines[i/5], map[string]any{"note": fmt.Sprint(i)}))
						}
					})
					f.log(t)
					t.Logf("round %d: %v", round, counts)
					for s := range counts {
						require.Less(t, s, 500, "%v", counts)
					}
					got := b.do("GET", "/api/carts/"+cart, nil)
					sum, n := linesOf(t, b, cart)
					if got.status == http.StatusOK {
						require.Equal(t, sum, num(t, got.body["total"]), string(got.raw))
						require.Equal(t, n, num(t, got.body["n"]), string(got.raw))
					} else {
						require.Equal(t, 0, n, "lines still pointing at a deleted cart")
					}
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------------------
// 4. Moving children between two parents both ways at once.

func TestLockReviewMoveChildrenBothWays(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", cartSpec(true))
		for round := range 2 {
			a, c := b.create("carts", map[string]any{}), b.create("carts", map[string]any{})
			var la, lc []string
			for range 12 {
				la = append(la, b.create("lines", map[string]any{"cart": a, "qty": 1}))
				lc = append(lc, b.create("lines", map[string]any{"cart": c, "qty": 2}))
			}
			var f failures
			counts := statusCounts(24, func(i int) int {
				switch i % 4 {
				case 0:
					return f.note(b.do("PATCH", "/api/lines/"+la[i/2], map[string]any{"cart": c, "qty": 5}))
				case 1:
					return f.note(b.do("PATCH", "/api/lines/"+lc[i/2], map[string]any{"cart": a}))
				case 2:
					return f.note(b.do("POST", "/api/carts/"+a+"/bump", map[string]any{"line": la[i/2]}))
				default:
					return f.note(b.do("POST", "/api/carts/"+c+"/bump", map[string]any{"line": lc[i/2]}))
				}
			})
			f.log(t)
			t.Logf("round %d: %v", round, counts)
			require.Equal(t, map[int]int{http.StatusOK: 24}, counts)
			for _, cart := range []string{a, c} {
				cartAddsUp(t, b, cart)
			}
		}
	})
}

// ---------------------------------------------------------------------------------------
// 5. Soft delete and restore of children at once with rollup-refreshing writes.

func TestLockReviewSoftDeleteAndRestoreOfChildren(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		src := reviewReplace(cartSpec(true), "  lines:\n    fields:", "  lines:\n    soft_delete: true\n    fields:")
		b := setup(t, "postgres", src)
		for round := range 2 {
			cart := b.create("carts", map[string]any{})
			var lines []string
			for range 24 {
				lines = append(lines, b.create("lines", map[string]any{"cart": cart, "qty": 2}))
			}
			for _, l := range lines[:6] {
				require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/lines/"+l, nil).status)
			}
			var f failures
			counts := statusCounts(24, func(i int) int {
				switch i % 4 {
				case 0:
					return f.note(b.do("POST", "/api/lines/"+lines[i/4]+"/restore", nil))
				case 1:
					return f.note(b.do("DELETE", "/api/lines/"+lines[6+i/4], nil))
				case 2:
					return f.note(b.do("PATCH", "/api/lines/"+lines[12+i/4], map[string]any{"qty": 4}))
				default:
					return f.note(b.do("POST", "/api/carts/"+cart+"/bump", map[string]any{"line": lines[18+i/4]}))
				}
			})
			f.log(t)
			t.Logf("round %d: %v", round, counts)
			require.Equal(t, map[int]int{http.StatusOK: 18, http.StatusNoContent: 6}, counts)
			cartAddsUp(t, b, cart)
		}
	})
}

// Restore of a line at once with actions on its cart that update that very line once it is
// back, and deletes of it: restore locks the line, then its cart for the rollup.
func TestLockReviewRestoreBesideParentActionsOnIt(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		src := reviewReplace(cartSpec(true), "  lines:\n    fields:", "  lines:\n    soft_delete: true\n    fields:")
		b := setup(t, "postgres", src)
		cart := b.create("carts", map[string]any{})
		var lines []string
		for range 8 {
			lines = append(lines, b.create("lines", map[string]any{"cart": cart, "qty": 2}))
		}
		var f failures
		total := map[int]int{}
		for range 4 {
			for _, l := range lines {
				b.do("DELETE", "/api/lines/"+l, nil)
			}
			counts := statusCounts(24, func(i int) int {
				l := lines[i%8]
				switch i / 8 {
				case 0:
					return f.note(b.do("POST", "/api/lines/"+l+"/restore", nil))
				case 1:
					return f.note(b.do("POST", "/api/carts/"+cart+"/bump", map[string]any{"line": l}))
				default:
					return f.note(b.do("PATCH", "/api/lines/"+l, map[string]any{"qty": 6}))
				}
			})
			for s, n := range counts {
				total[s] += n
			}
		}
		f.log(t)
		t.Logf("counts: %v", total)
		for s := range total {
			require.Less(t, s, 500, "%v", total)
		}
		cartAddsUp(t, b, cart)
	})
}

// ---------------------------------------------------------------------------------------
// 6. An effect with each (over the cart's lines) at once with updates of those lines.

func TestLockReviewEachEffectBesideChildUpdates(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		src := reviewReplace(cartSpec(true), "    actions:\n      bump:", `    effects:
      - name: stamp
        on: [update]
        when: "record.bumps != old.bumps"
        each: lines
        update: lines
        id: item.id
        set: {qty: "item.qty + 1"}
    actions:
      bump:`)
		b := setup(t, "postgres", src)
		for round := range 2 {
			cart := b.create("carts", map[string]any{})
			var lines []string
			for range 16 {
				lines = append(lines, b.create("lines", map[string]any{"cart": cart, "qty": 2}))
			}
			var f failures
			counts := statusCounts(24, func(i int) int {
				switch i % 3 {
				case 0:
					return f.note(b.do("PATCH", "/api/carts/"+cart, map[string]any{"bumps": 1000 + i}))
				case 1:
					return f.note(b.do("PATCH", "/api/lines/"+lines[i/3], map[string]any{"qty": 5}))
				default:
					return f.note(b.do("PATCH", "/api/lines/"+lines[8+i/3], map[string]any{"note": fmt.Sprint(i)}))
				}
			})
			f.log(t)
			t.Logf("round %d: %v", round, counts)
			require.Equal(t, map[int]int{http.StatusOK: 24}, counts)
			cartAddsUp(t, b, cart)
		}
	})
}

// ---------------------------------------------------------------------------------------
// 7. Rules that read the parent (get) or count its children at once with writes reaching
// the line from its cart.

func TestLockReviewRulesReadingTheParent(t *testing.T) {
	rules := map[string]string{
		"get": `    rules:
      - name: cart_open
        on: [create, update]
        check: "get('carts', record.cart).open"
        code: cart_closed
        conflict: true
        message: the cart is closed
`,
		"count": `    rules:
      - name: few
        on: [create, update]
        check: "count('lines', 'cart == record.cart') <= 100"
        code: too_many
        conflict: true
        message: too many lines
`,
	}
	for name, rule := range rules {
		t.Run(name, func(t *testing.T) {
			onPostgres(t, func(t *testing.T) {
				src := reviewReplace(cartSpec(true), "  lines:\n    fields:", "  lines:\n"+rule+"    fields:")
				b := setup(t, "postgres", src)
				for round := range 2 {
					cart := b.create("carts", map[string]any{})
					var lines []string
					for range 16 {
						lines = append(lines, b.create("lines", map[string]any{"cart": cart, "qty": 2}))
					}
					var f failures
					counts := statusCounts(24, func(i int) int {
						switch i % 3 {
						case 0:
							return f.note(b.do("POST", "/api/carts/"+cart+"/bump", map[string]any{"line": lines[i/3]}))
						case 1:
							return f.note(b.do("PATCH", "/api/lines/"+lines[i/3], map[string]any{"note": fmt.Sprint(i)}))
						default:
							return f.note(b.do("PATCH", "/api/lines/"+lines[8+i/3], map[string]any{"qty": 5}))
						}
					})
					f.log(t)
					t.Logf("round %d: %v", round, counts)
					require.Equal(t, map[int]int{http.StatusOK: 24}, counts)
					cartAddsUp(t, b, cart)
					got := b.do("GET", "/api/carts/"+cart, nil)
					require.Equal(t, 8, num(t, got.body["bumps"]), string(got.raw))
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------------------
// 9. A child with two rollup parents: a create refreshes them in the order the child's
// fields name them (product, then cart), while an update or delete locks them ahead sorted
// by resource name (carts, then products).

const reviewTwoParentsSpec = `resources:
  products:
    fields:
      sold: {type: integer, rollup: {sum: qty, of: lines}}
      lines: {type: relation, to: lines, inverse: product}
    access: {list: public, view: public, create: public, update: public, delete: public}
  carts:
    fields:
      total: {type: integer, rollup: {sum: qty, of: lines}}
      lines: {type: relation, to: lines, inverse: cart, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  lines:
    fields:
      qty: {type: integer, required: true, min: 0}
      product: {type: relation, to: products, required: true}
      cart: {type: relation, to: carts, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

func TestLockReviewChildWithTwoRollupParents(t *testing.T) {
	twoRollupParents(t, reviewTwoParentsSpec)
}

// The control: with the child's cart declared before its product, a create refreshes them
// in the order the updates lock them ahead, and everything lands.
func TestLockReviewChildWithTwoRollupParentsInNameOrder(t *testing.T) {
	twoRollupParents(t, reviewReplace(reviewTwoParentsSpec,
		"      product: {type: relation, to: products, required: true}\n      cart: {type: relation, to: carts, required: true}\n",
		"      cart: {type: relation, to: carts, required: true}\n      product: {type: relation, to: products, required: true}\n"))
}

func twoRollupParents(t *testing.T, src string) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", src)
		for round := range 3 {
			p := b.create("products", map[string]any{})
			cart := b.create("carts", map[string]any{})
			var lines []string
			for range 12 {
				lines = append(lines, b.create("lines", map[string]any{"cart": cart, "product": p, "qty": 1}))
			}
			var f failures
			counts := statusCounts(24, func(i int) int {
				switch i % 3 {
				case 0:
					return f.note(b.do("POST", "/api/lines", map[string]any{"cart": cart, "product": p, "qty": 2}))
				case 1:
					return f.note(b.do("PATCH", "/api/lines/"+lines[i/3], map[string]any{"qty": 5}))
				default:
					return f.note(b.do("DELETE", "/api/lines/"+lines[8+i/3%4], nil))
				}
			})
			f.log(t)
			t.Logf("round %d: %v", round, counts)
			sum, _ := linesOf(t, b, cart)
			got := b.do("GET", "/api/carts/"+cart, nil)
			require.Equal(t, sum, num(t, got.body["total"]), string(got.raw))
			pr := b.do("GET", "/api/products/"+p, nil)
			require.Equal(t, sum, num(t, pr.body["sold"]), string(pr.raw))
			require.Equal(t, 0, counts[http.StatusServiceUnavailable]+counts[http.StatusInternalServerError], "%v", counts)
		}
	})
}

// Nested carts whose lines name two products in opposite orders: each line's rollup locks
// its product as the line is written.
func TestLockReviewNestedLinesRollingUpIntoProductsInOppositeOrder(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		b := setup(t, "postgres", reviewTwoParentsSpec)
		p1, p2 := b.create("products", map[string]any{}), b.create("products", map[string]any{})
		var f failures
		counts := statusCounts(20, func(i int) int {
			lines := []any{map[string]any{"product": p1, "qty": 1}, map[string]any{"product": p2, "qty": 1}}
			if i%2 == 1 {
				lines[0], lines[1] = lines[1], lines[0]
			}
			return f.note(b.do("POST", "/api/carts", map[string]any{"lines": lines}))
		})
		f.log(t)
		ok := counts[http.StatusCreated]
		for _, p := range []string{p1, p2} {
			pr := b.do("GET", "/api/products/"+p, nil)
			require.Equal(t, ok, num(t, pr.body["sold"]), string(pr.raw))
		}
		require.Equal(t, map[int]int{http.StatusCreated: 20}, counts)
	})
}

// A rule that counts a cart's lines on create (it locks the cart before counting) keeps its
// limit under concurrent creates beside actions on the cart and moves into it.
func TestLockReviewCountLimitHoldsUnderConcurrentWrites(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		src := reviewReplace(cartSpec(true), "  lines:\n    fields:", `  lines:
    rules:
      - name: few
        on: [create, update]
        check: "count('lines', 'cart == record.cart') < 10"
        code: too_many
        conflict: true
        message: too many lines
    fields:`)
		b := setup(t, "postgres", src)
		for round := range 3 {
			cart, other := b.create("carts", map[string]any{}), b.create("carts", map[string]any{})
			var mine, theirs []string
			for range 4 {
				mine = append(mine, b.create("lines", map[string]any{"cart": cart, "qty": 1}))
				theirs = append(theirs, b.create("lines", map[string]any{"cart": other, "qty": 1}))
			}
			var f failures
			counts := statusCounts(20, func(i int) int {
				switch {
				case i < 12:
					return f.note(b.do("POST", "/api/lines", map[string]any{"cart": cart, "qty": 2}))
				case i < 16:
					return f.note(b.do("PATCH", "/api/lines/"+theirs[i-12], map[string]any{"cart": cart}))
				default:
					return f.note(b.do("POST", "/api/carts/"+cart+"/bump", map[string]any{"line": mine[i-16]}))
				}
			})
			f.log(t)
			t.Logf("round %d: %v", round, counts)
			_, n := linesOf(t, b, cart)
			require.LessOrEqual(t, n, 10, "%v", counts)
			got := b.do("GET", "/api/carts/"+cart, nil)
			require.Equal(t, n, num(t, got.body["n"]), string(got.raw))
			require.Equal(t, 0, counts[http.StatusServiceUnavailable]+counts[http.StatusInternalServerError], "%v", counts)
		}
	})
}

// A line's create runs its effects (here on its product) before its rollups (its cart),
// while an update locks both ahead sorted by resource name (carts, then products): with the
// cart declared first, so that rollups alone keep name order, creates still lock product
// then cart and updates cart then product.
func TestLockReviewChildCreateEffectBeforeRollup(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		src := reviewReplace(reviewTwoParentsSpec,
			"      product: {type: relation, to: products, required: true}\n      cart: {type: relation, to: carts, required: true}\n",
			`      cart: {type: relation, to: carts, required: true}
      product: {type: relation, to: products, required: true}
    effects:
      - name: touch
        on: [create, update]
        update: products
        id: record.product
        set: {touched: "target.touched + 1"}
`)
		src = reviewReplace(src, "      sold: {type: integer, rollup: {sum: qty, of: lines}}\n", "      touched: {type: integer, default: 0}\n")
		b := setup(t, "postgres", src)
		p := b.create("products", map[string]any{})
		cart := b.create("carts", map[string]any{})
		var lines []string
		for range 12 {
			lines = append(lines, b.create("lines", map[string]any{"cart": cart, "product": p, "qty": 1}))
		}
		var f failures
		counts := statusCounts(24, func(i int) int {
			if i%2 == 0 {
				return f.note(b.do("POST", "/api/lines", map[string]any{"cart": cart, "product": p, "qty": 2}))
			}
			return f.note(b.do("PATCH", "/api/lines/"+lines[i/2], map[string]any{"qty": 5}))
		})
		f.log(t)
		t.Logf("counts: %v", counts)
		sum, _ := linesOf(t, b, cart)
		got := b.do("GET", "/api/carts/"+cart, nil)
		require.Equal(t, sum, num(t, got.body["total"]), string(got.raw))
		require.Equal(t, map[int]int{http.StatusCreated: 12, http.StatusOK: 12}, counts)
		pr := b.do("GET", "/api/products/"+p, nil)
		require.Equal(t, 12+24, num(t, pr.body["touched"]), string(pr.raw))
	})
}

// A soft-deleted cart keeps its row, so a line whose create checked the cart before the
// delete committed and inserts after it still lands (its foreign key holds), while its rollup
// refresh skips the cart (deleted). Restoring the cart then shows a total without that line.
func TestLockReviewSoftDeletedParentBesideChildCreates(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		src := reviewReplace(cartSpec(true), "  carts:\n    fields:", "  carts:\n    soft_delete: true\n    fields:")
		b := setup(t, "postgres", src)
		for round := range 8 {
			cart := b.create("carts", map[string]any{})
			var f failures
			counts := statusCounts(17, func(i int) int {
				if i == 0 {
					return f.note(b.do("DELETE", "/api/carts/"+cart, nil))
				}
				return f.note(b.do("POST", "/api/lines", map[string]any{"cart": cart, "qty": 1}))
			})
			t.Logf("round %d: %v", round, counts)
			for s := range counts {
				require.Less(t, s, 500, "%v", counts)
			}
			restored := b.do("POST", "/api/carts/"+cart+"/restore", nil)
			require.Equal(t, http.StatusOK, restored.status, string(restored.raw))
			sum, n := linesOf(t, b, cart)
			got := b.do("GET", "/api/carts/"+cart, nil)
			require.Equal(t, counts[http.StatusCreated], n)
			require.Equal(t, sum, num(t, got.body["total"]), "after restore, with %d lines: %s", n, got.raw)
			require.Equal(t, n, num(t, got.body["n"]), string(got.raw))
		}
	})
}
