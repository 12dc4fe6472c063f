package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A rollup over a child's own rollup is a spec error: a grandchild's write refreshes the child
// alone, so the grandparent's value was left behind (the shop's carts summed into a customer,
// found by a hostile review), with no sign of it.
func TestRollupOverARollupIsRefused(t *testing.T) {
	t.Parallel()
	const src = `resources:
  groups:
    fields:
      grand: {type: integer, rollup: {sum: total, of: carts}}
      carts: {type: relation, to: carts, inverse: group}
  carts:
    fields:
      group: {type: relation, to: groups}
      total: {type: integer, rollup: {sum: qty, of: lines}}
      lines: {type: relation, to: lines, inverse: cart}
  lines:
    fields:
      cart: {type: relation, to: carts}
      qty: integer
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.EqualError(t, err, "k.yaml:4:38: field grand: rollup sum: carts.total is itself a rollup, or computed from one, which is not kept up to date "+
		"through two levels: aggregate a stored field of carts")
}

// So is a rollup over a child's field computed from the child's rollup (the customer's spent
// summing carts' double = total * 2 stayed 0: found by a hostile review).
func TestRollupOverAFieldComputedFromARollupIsRefused(t *testing.T) {
	t.Parallel()
	const src = `resources:
  customers:
    fields:
      spent: {type: integer, rollup: {sum: double, of: carts}}
      carts: {type: relation, to: carts, inverse: customer}
  carts:
    fields:
      customer: {type: relation, to: customers}
      total: {type: integer, rollup: {sum: qty, of: lines}}
      twice: {type: integer, compute: "record.total * 2"}
      double: {type: integer, compute: "record.twice"}
      lines: {type: relation, to: lines, inverse: cart}
  lines:
    fields:
      cart: {type: relation, to: carts}
      qty: integer
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, "field spent: rollup sum: carts.double is itself a rollup, or computed from one")
	_, err = Parse("k.yaml", []byte(strings.Replace(src, `compute: "record.twice"`, `compute: "record.totally"`, 1)), ParseOpts{LookupEnv: noEnv})
	require.NotContains(t, fmt.Sprint(err), "is itself a rollup")
}

// An inverse relation whose to: names no resource is reported once, with its did-you-mean,
// whatever reads through it — a rollup (any function, with or without where:), an effect's
// each:, a rule — and never panics (a sum over it crashed validate: a new user's trial).
func TestRelationToATypoIsOneErrorWhateverReadsIt(t *testing.T) {
	t.Parallel()
	const want = `k.yaml:5:7: field items: relation to unknown resource "order_item" (did you mean "order_items"?)`
	for _, tc := range []struct{ name, total, extra string }{
		{name: "Sum", total: "{type: integer, rollup: {sum: qty, of: items}}"},
		{name: "Min", total: "{type: integer, rollup: {min: qty, of: items}}"},
		{name: "Max", total: "{type: integer, rollup: {max: nope, of: items}}"},
		{name: "Count", total: "{type: integer, rollup: {count: true, of: items}}"},
		{name: "SumWhere", total: `{type: integer, rollup: {sum: qty, of: items, where: "qty > 1"}}`},
		{name: "CountWhere", total: `{type: integer, rollup: {count: true, of: items, where: "qty > 1"}}`},
		{name: "EffectEach", total: "integer", extra: "    effects:\n" +
			"      - {name: restock, each: items, update: order_items, id: item.id, set: {qty: item.qty}}\n"},
		{name: "RuleReadsIt", total: "integer", extra: "    rules:\n" +
			"      - {name: some, check: \"size(record.items) > 0\", fields: [items]}\n"},
		{name: "ActionReadsIt", total: "{type: integer, rollup: {sum: qty, of: items}}", extra: "    actions:\n" +
			"      close: {access: public, steps: [{assert: \"size(record.items) == 0\", code: has_items}]}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "resources:\n  orders:\n    fields:\n" +
				"      total: " + tc.total + "\n" +
				"      items: {type: relation, to: order_item, inverse: order}\n" + tc.extra +
				"  order_items:\n    fields: {order: {type: relation, to: orders}, qty: integer}\n"
			var err error
			require.NotPanics(t, func() { _, err = Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv}) })
			require.EqualError(t, err, want, "nothing follows from the typo but its own error")
		})
	}
}
