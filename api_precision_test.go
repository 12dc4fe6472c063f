package kiln_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Kiln computes decimals into decimal(4,2) fields: an item's computed field and its sum stored
// like what it adds up (one UPDATE refreshes it), and a box's sum of integers, converted.
const precisionSpec = `resources:
  items:
    fields:
      a: {type: decimal, precision: 4, scale: 2, required: true}
      b: {type: decimal, precision: 4, scale: 2, compute: "record.a * decimal('100')"}
      total: {type: decimal, precision: 4, scale: 2, default: "0", rollup: {sum: v, of: lines}}
      lines: {type: relation, to: lines, inverse: item}
    access: {list: public, view: public, create: public, update: public, delete: public}
  boxes:
    fields:
      units: {type: decimal, precision: 4, scale: 2, rollup: {sum: n, of: lines}}
      lines: {type: relation, to: lines, inverse: box}
    access: {list: public, view: public, create: public, update: public, delete: public}
  lines:
    fields:
      item: {type: relation, to: items, required: true}
      box: {type: relation, to: boxes}
      v: {type: decimal, precision: 4, scale: 2, default: "0"}
      n: {type: integer, default: 0}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// A decimal Kiln computes is held to its field's precision before the database sees it, alike
// on both databases: a computed value with too many digits is 400 precision naming the field,
// a rollup that outgrows its field 409 logic_failed naming it, nothing written. SQLite stored
// b = 9999 and total = 120 in decimal(4,2) columns; PostgreSQL's numeric overflow answered 400
// validation_failed naming no field (found by a user trial).
func TestComputedAndRolledUpDecimalsAreHeldToTheirPrecision(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, precisionSpec)
		sent := b.do("POST", "/api/items", map[string]any{"a": json.Number("100")})
		require.Equal(t, http.StatusBadRequest, sent.status, string(sent.raw))
		require.Equal(t, map[string]string{"a": "precision"}, fieldCodes(sent.body), "a sent value, refused as before")
		res := b.do("POST", "/api/items", map[string]any{"a": json.Number("99.99")})
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, "validation_failed", res.body["error"], string(res.raw))
		require.Equal(t, map[string]string{"b": "precision"}, fieldCodes(res.body), string(res.raw))
		require.Equal(t, int64(0), b.count("items"), "nothing written")

		item := b.create("items", map[string]any{"a": json.Number("0.99")})
		b.create("lines", map[string]any{"item": item, "v": json.Number("60")})
		over := b.do("POST", "/api/lines", map[string]any{"item": item, "v": json.Number("60")})
		require.Equal(t, http.StatusConflict, over.status, string(over.raw))
		require.Equal(t, "logic_failed", over.body["error"], string(over.raw))
		require.Equal(t, map[string]string{"items.total": "precision"}, fieldCodes(over.body), string(over.raw))
		require.Equal(t, int64(1), b.count("lines"), "nothing written")

		box := b.create("boxes", map[string]any{})
		b.create("lines", map[string]any{"item": item, "box": box, "n": 99})
		over = b.do("POST", "/api/lines", map[string]any{"item": item, "box": box, "n": 1})
		require.Equal(t, http.StatusConflict, over.status, string(over.raw))
		require.Equal(t, "logic_failed", over.body["error"], string(over.raw))
		require.Equal(t, map[string]string{"boxes.units": "precision"}, fieldCodes(over.body), string(over.raw))
		require.Equal(t, int64(2), b.count("lines"), "nothing written")

		got := b.do("GET", "/api/items/"+item, nil)
		require.Equal(t, []any{json.Number("99"), json.Number("60")}, []any{got.body["b"], got.body["total"]}, string(got.raw))
		got = b.do("GET", "/api/boxes/"+box, nil)
		require.Equal(t, json.Number("99"), got.body["units"], string(got.raw))
	})
}

const bigSumSpec = `resources:
  orders:
    fields:
      total: {type: decimal, precision: 18, scale: 2, rollup: {sum: v, of: lines}}
      capped: {type: decimal, precision: 18, scale: 2, max: "9999999999999999.99", rollup: {sum: w, of: lines}}
      units: {type: decimal, precision: 18, scale: 2, rollup: {sum: n, of: lines}}
      lines: {type: relation, to: lines, inverse: order}
    access: {list: public, view: public, create: public, update: public, delete: public}
  lines:
    fields:
      order: {type: relation, to: orders, required: true}
      v: {type: decimal, precision: 18, scale: 2, default: "0"}
      w: {type: decimal, precision: 18, scale: 2, default: "0"}
      n: {type: integer, default: 0}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// Sums past what any decimal holds are refused as not fitting, on both dialects: a sum of
// decimal(18,2) values with 19 digits (PostgreSQL's SUM computed it, reading it back was a
// 500), through the one-statement refresh (total) and the Go one (capped); integers summed into
// a decimal(18,2) past an int64's minor units (184467440737095517 × 100 wrapped around and was
// stored as 0.84). Found by a review of the precision checks.
func TestRollupsPastEighteenDigitsAreRefused(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, bigSumSpec)
		for _, f := range []string{"w", "v"} {
			order := b.create("orders", map[string]any{})
			b.create("lines", map[string]any{"order": order, f: json.Number("9999999999999999.99")})
			over := b.do("POST", "/api/lines", map[string]any{"order": order, f: json.Number("9999999999999999.99")})
			require.Equal(t, http.StatusConflict, over.status, f+": "+string(over.raw))
			require.Equal(t, "logic_failed", over.body["error"], string(over.raw))
		}
		order := b.create("orders", map[string]any{})
		res := b.do("POST", "/api/lines", map[string]any{"order": order, "n": json.Number("184467440737095517")})
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		got := b.do("GET", "/api/orders/"+order, nil)
		require.Equal(t, "0", string(got.body["units"].(json.Number)), "nothing was written: %s", got.raw)
	})
}

// A field computed from a rollup (an invoice's total from the subtotal its lines add up to)
// that outgrows its field when a line is written is 409 logic_failed naming it as the
// invoice's field, saying it was computed from a rollup: it said "a value this write sets (an
// effect's or an action step's set:)" of a spec without either, and named it bare (`total`;
// a new user's trial found it).
func TestAFieldComputedFromARollupIsNamedWhenItOutgrowsItsField(t *testing.T) {
	t.Parallel()
	const src = `resources:
  invoices:
    fields:
      subtotal: {type: decimal, precision: 6, scale: 2, rollup: {sum: amount, of: lines}}
      total: {type: decimal, precision: 6, scale: 2, compute: "record.subtotal * decimal('2')"}
      lines: {type: relation, to: invoice_lines, inverse: invoice}
    access: {list: public, view: public, create: public, update: public, delete: public}
  invoice_lines:
    fields:
      invoice: {type: relation, to: invoices, required: true}
      amount: {type: decimal, precision: 6, scale: 2, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		inv := b.create("invoices", map[string]any{})
		b.create("invoice_lines", map[string]any{"invoice": inv, "amount": json.Number("4000")})
		over := b.do("POST", "/api/invoice_lines", map[string]any{"invoice": inv, "amount": json.Number("1000")})
		require.Equal(t, http.StatusConflict, over.status, string(over.raw))
		require.Equal(t, "logic_failed", over.body["error"], string(over.raw))
		require.Equal(t, map[string]string{"invoices.total": "precision"}, fieldCodes(over.body), string(over.raw))
		require.Contains(t, over.body["detail"], "(a rollup)", string(over.raw))
		require.NotContains(t, string(over.raw), "effect", string(over.raw))
		require.Equal(t, int64(1), b.count("invoice_lines"), "nothing written")
		got := b.do("GET", "/api/invoices/"+inv, nil)
		require.Equal(t, []any{json.Number("4000"), json.Number("8000")}, []any{got.body["subtotal"], got.body["total"]}, string(got.raw))
	})
}
