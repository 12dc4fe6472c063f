package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A unique clash two levels down is named by its whole path (parts inside items inside an
// order), and one in the first level by its own.
func TestNestedUniqueClashIsNamedByItsPath(t *testing.T) {
	t.Parallel()
	src := `resources:
  orders:
    fields:
      note: string
      items: {type: relation, to: items, inverse: order, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  items:
    fields:
      order: {type: relation, to: orders, required: true}
      name: {type: string, required: true}
      parts: {type: relation, to: parts, inverse: item, nested: true}
    indexes:
      - fields: [order, name]
        unique: true
    access: {list: public, view: public, create: public, update: public, delete: public}
  parts:
    fields:
      item: {type: relation, to: items, required: true}
      sku: {type: string, required: true, unique: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		deep := b.do("POST", "/api/orders", map[string]any{"items": []any{
			map[string]any{"name": "a", "parts": []any{map[string]any{"sku": "x"}, map[string]any{"sku": "x"}}}}})
		require.Equal(t, http.StatusConflict, deep.status, string(deep.raw))
		require.Equal(t, map[string]string{"items[0].parts[1].sku": "unique"}, fieldCodes(deep.body), string(deep.raw))
		first := b.do("POST", "/api/orders", map[string]any{"items": []any{map[string]any{"name": "a"}, map[string]any{"name": "a"}}})
		require.Equal(t, http.StatusConflict, first.status, string(first.raw))
		require.Contains(t, fieldCodes(first.body), "items[1].name", string(first.raw))
		require.Zero(t, b.count("orders"), "nothing was written")
	})
}

// A nested child's unique clash names every unique field it clashes with, under the child's
// path, alike on both dialects, and so does an operation of a batch: the fields are named
// once the transaction is over (the store's explainClash), not from the one index each
// database happened to check first.
func TestNestedUniqueClashNamesEveryClashingField(t *testing.T) {
	t.Parallel()
	src := `resources:
  orders:
    fields:
      note: string
      items: {type: relation, to: items, inverse: order, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  items:
    fields:
      order: {type: relation, to: orders, required: true}
      sku: {type: string, required: true, unique: true}
      code: {type: string, required: true, unique: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  badges:
    fields:
      sku: {type: string, unique: true}
      code: {type: string, unique: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		body := map[string]any{"items": []any{map[string]any{"sku": "x", "code": "y"}}}
		require.Equal(t, http.StatusCreated, b.do("POST", "/api/orders", body).status)
		again := b.do("POST", "/api/orders", body)
		require.Equal(t, http.StatusConflict, again.status, string(again.raw))
		require.Equal(t, map[string]string{"items[0].sku": "unique", "items[0].code": "unique"}, fieldCodes(again.body), string(again.raw))
		require.EqualValues(t, 1, b.count("orders"), "the refused order was not written")

		// In a batch the operations are answered inside its transaction; the fields are
		// named again once it is over.
		badge := map[string]any{"sku": "x", "code": "y"}
		require.Equal(t, http.StatusCreated, b.do("POST", "/api/badges", badge).status)
		batch := b.do("POST", "/api/batch", map[string]any{"operations": []any{
			op("POST", "/api/badges", map[string]any{"sku": "z"}), op("POST", "/api/badges", badge), op("POST", "/api/orders", body)}})
		require.Equal(t, http.StatusConflict, batch.status, string(batch.raw))
		require.Equal(t, map[string]string{"operations[1].body.sku": "unique", "operations[1].body.code": "unique"}, fieldCodes(batch.body), string(batch.raw))
		nested := b.do("POST", "/api/batch", map[string]any{"operations": []any{op("POST", "/api/orders", body)}})
		require.Equal(t, http.StatusConflict, nested.status, string(nested.raw))
		require.Equal(t, map[string]string{"operations[0].body.items[0].sku": "unique", "operations[0].body.items[0].code": "unique"},
			fieldCodes(nested.body), string(nested.raw))
		require.EqualValues(t, 1, b.count("badges"), "nothing of the batches was written")
	})
}

// Nested children are created on their parent's authority (the child resource's own create
// access does not apply; its fields' write roles, validation and rules do), and the parent's
// nested field keeps its own write roles: a member may create a visit but not carry notes in
// it, which only staff may write; staff may.
func TestNestedFieldWriteRolesHold(t *testing.T) {
	t.Parallel()
	src := `roles: [staff, member]
auth:
  account: people
  signup: open
  default_role: member
resources:
  people:
    fields:
      name: string
    access: {list: [staff], view: [staff], create: [staff], update: [staff], delete: [staff]}
  visits:
    fields:
      reason: string
      notes: {type: relation, to: visit_notes, inverse: visit, nested: true, write: [staff]}
    access: {list: public, view: public, create: public, update: [staff], delete: [staff]}
  visit_notes:
    fields:
      visit: {type: relation, to: visits, required: true}
      text: {type: string, required: true}
      flag: {type: boolean, write: [staff]}
    access: {list: public, view: public, create: [staff], update: [staff], delete: [staff]}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		_, member, _ := b.signup("member@example.com", "correct horse battery")
		auth := "Authorization"
		res := b.anon("POST", "/api/visits", map[string]any{"reason": "r", "notes": []any{map[string]any{"text": "x"}}}, auth, "Bearer "+member)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, map[string]string{"notes": "not_allowed"}, fieldCodes(res.body), string(res.raw))
		require.Zero(t, b.count("visits"), "nothing was written")
		require.Zero(t, b.count("visit_notes"), "nothing was written")
		res = b.anon("POST", "/api/visits", map[string]any{"reason": "r"}, auth, "Bearer "+member)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		res = b.do("POST", "/api/visits", map[string]any{"reason": "r", "notes": []any{map[string]any{"text": "x", "flag": true}}})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		require.EqualValues(t, 1, b.count("visit_notes"))
	})
}

// A nested child that sets the relation to its parent is refused with readonly on it, and with
// every other problem it shows on its own, as a record alone is: found with market.yaml, where
// {"lines": [{"order": …, "quantity": 2.5}]} named only lines[0].order.
func TestNestedChildSettingItsParentNamesItsOtherProblems(t *testing.T) {
	t.Parallel()
	src := `resources:
  orders:
    fields:
      note: string
      lines: {type: relation, to: lines, inverse: order, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  lines:
    fields:
      order: {type: relation, to: orders, required: true}
      quantity: {type: integer, required: true, max: 10}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		order := b.do("POST", "/api/orders", map[string]any{"note": "first"})
		require.Equal(t, http.StatusCreated, order.status, string(order.raw))
		res := b.do("POST", "/api/orders", map[string]any{"lines": []any{
			map[string]any{"quantity": 1}, map[string]any{"order": order.body["id"], "quantity": 2.5, "color": "red"}}})
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, map[string]string{"lines[1].order": "readonly", "lines[1].quantity": "type", "lines[1].color": "unknown_field"},
			fieldCodes(res.body), string(res.raw))
		require.EqualValues(t, 1, b.count("orders"), "nothing more was written")
		require.Zero(t, b.count("lines"))
	})
}

// A nested child's own nested children are no fields of its row: where the child is named with
// what it shows on its own (its parent refused, or it sets the relation to its parent), its
// parts were named items[0].parts: readonly ("cannot be written"), a valid body's field; they
// are named under their own paths with their own problems.
func TestNestedChildsOwnChildrenAreNotReadonly(t *testing.T) {
	t.Parallel()
	src := `resources:
  orders:
    fields:
      note: {type: string, max_length: 3}
      items: {type: relation, to: items, inverse: order, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  items:
    fields:
      order: {type: relation, to: orders, required: true}
      name: {type: string, required: true}
      parts: {type: relation, to: parts, inverse: item, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  parts:
    fields:
      item: {type: relation, to: items, required: true}
      sku: {type: string, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		order := b.do("POST", "/api/orders", map[string]any{"note": "a"})
		require.Equal(t, http.StatusCreated, order.status, string(order.raw))
		parts := []any{map[string]any{"sku": "x"}, map[string]any{"sku": 7}}
		refused := b.do("POST", "/api/orders", map[string]any{"note": "too long", "items": []any{map[string]any{"name": "a", "parts": parts}}})
		require.Equal(t, http.StatusBadRequest, refused.status, string(refused.raw))
		require.Equal(t, map[string]string{"note": "max_length", "items[0].parts[1].sku": "type"}, fieldCodes(refused.body), string(refused.raw))
		setsParent := b.do("POST", "/api/orders", map[string]any{"items": []any{
			map[string]any{"order": order.body["id"], "name": "a", "parts": parts}}})
		require.Equal(t, http.StatusBadRequest, setsParent.status, string(setsParent.raw))
		require.Equal(t, map[string]string{"items[0].order": "readonly", "items[0].parts[1].sku": "type"}, fieldCodes(setsParent.body), string(setsParent.raw))
		require.EqualValues(t, 1, b.count("orders"), "nothing more was written")
		ok := b.do("POST", "/api/orders", map[string]any{"items": []any{map[string]any{"name": "a", "parts": parts[:1]}}})
		require.Equal(t, http.StatusCreated, ok.status, string(ok.raw))
		require.EqualValues(t, 1, b.count("parts"))
	})
}
