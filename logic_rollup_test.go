package kiln_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/stretchr/testify/require"
)

// Trays keep rollups over their cups two ways: ones stored like what they aggregate (one
// UPDATE computes and writes them) and, on pans, ones that need a conversion (an integer sum
// into a decimal, a count into a number: read, convert, write).
const rollupSpec = `resources:
  trays:
    fields:
      open: {type: boolean, default: true}
      ml: {type: integer, rollup: {sum: ml, of: cups}}
      cups_n: {type: integer, rollup: {count: true, of: cups}}
      biggest: {type: integer, rollup: {max: ml, of: cups}}
      price: {type: decimal, precision: 10, scale: 2, rollup: {sum: price, of: cups}}
      cups: {type: relation, to: cups, inverse: tray}
  pans:
    fields:
      ml: {type: decimal, precision: 10, scale: 1, rollup: {sum: ml, of: cups}}
      cups_n: {type: number, rollup: {count: true, of: cups}}
      cups: {type: relation, to: cups, inverse: pan}
  cups:
    soft_delete: true
    fields:
      tray: {type: relation, to: trays, required: true}
      pan: {type: relation, to: pans}
      ml: {type: integer, required: true}
      price: {type: decimal, precision: 10, scale: 2}
      label: string
    rules:
      - name: tray_open
        check: "get('trays', record.tray).open"
        code: tray_closed
        conflict: true
`

type rollupState struct {
	ml, n, biggest, price, version any
}

func (b *testBundle) rollups(path string) rollupState {
	b.t.Helper()
	res := b.do("GET", path, nil)
	require.Equal(b.t, 200, res.status, string(res.raw))
	parts := strings.Split(path, "/")
	rec, _, err := b.app.Service.Get(service.AsSystem(context.Background()), parts[2], parts[3], nil)
	require.NoError(b.t, err)
	return rollupState{res.body["ml"], res.body["cups_n"], res.body["biggest"], res.body["price"], rec.Version}
}

func TestRollupsFollowEveryChildWrite(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, rollupSpec)
		ctx := service.AsSystem(context.Background())
		svc := b.app.Service
		mk := func(res string, in map[string]any) string {
			rec, err := svc.Create(ctx, res, in, service.WriteOpts{})
			require.NoError(t, err)
			return rec.ID
		}
		tray := func(id string) rollupState { return b.rollups("/api/trays/" + id) }
		pan := func(id string) []any { r := b.rollups("/api/pans/" + id); return []any{r.ml, r.n} }
		t1, t2 := mk("trays", map[string]any{}), mk("trays", map[string]any{})
		p := mk("pans", map[string]any{})
		require.Equal(t, rollupState{json.Number("0"), json.Number("0"), nil, json.Number("0"), int64(1)}, tray(t1),
			"no child yet: a sum and a count are 0 (as once the last one is gone), a max null")

		a := mk("cups", map[string]any{"tray": t1, "pan": p, "ml": json.Number("200"), "price": "1.10"})
		c := mk("cups", map[string]any{"tray": t1, "pan": p, "ml": json.Number("350"), "price": "0.01"})
		require.Equal(t, rollupState{json.Number("550"), json.Number("2"), json.Number("350"), json.Number("1.11"), int64(3)}, tray(t1))
		require.Equal(t, []any{json.Number("550"), json.Number("2")}, pan(p), "converted: integer sum into a decimal, count into a number")

		_, err := svc.Update(ctx, "cups", c, map[string]any{"label": "blue"}, false, service.WriteOpts{})
		require.NoError(t, err)
		require.Equal(t, int64(3), tray(t1).version, "a change the rollups do not read leaves the tray alone")
		_, err = svc.Update(ctx, "cups", c, map[string]any{"ml": json.Number("100")}, false, service.WriteOpts{})
		require.NoError(t, err)
		require.Equal(t, rollupState{json.Number("300"), json.Number("2"), json.Number("200"), json.Number("1.11"), int64(4)}, tray(t1))
		require.Equal(t, []any{json.Number("300"), json.Number("2")}, pan(p))

		_, err = svc.Update(ctx, "cups", a, map[string]any{"tray": t2, "pan": nil}, false, service.WriteOpts{})
		require.NoError(t, err, "moved to another tray and off the pan")
		require.Equal(t, rollupState{json.Number("100"), json.Number("1"), json.Number("100"), json.Number("0.01"), int64(5)}, tray(t1))
		require.Equal(t, rollupState{json.Number("200"), json.Number("1"), json.Number("200"), json.Number("1.1"), int64(2)}, tray(t2))
		require.Equal(t, []any{json.Number("100"), json.Number("1")}, pan(p))

		require.NoError(t, svc.Delete(ctx, "cups", c, service.WriteOpts{}), "soft delete")
		require.Equal(t, rollupState{json.Number("0"), json.Number("0"), nil, json.Number("0"), int64(6)}, tray(t1), "a deleted cup no longer counts")
		require.Equal(t, []any{json.Number("0"), json.Number("0")}, pan(p))
		_, err = svc.Restore(ctx, "cups", c, service.WriteOpts{})
		require.NoError(t, err)
		require.Equal(t, rollupState{json.Number("100"), json.Number("1"), json.Number("100"), json.Number("0.01"), int64(7)}, tray(t1), "restored, it counts again")
		require.Equal(t, []any{json.Number("100"), json.Number("1")}, pan(p))
	})
}

// The relation check reads a tray the rule then gets (one read serves both): a tray that does
// not exist is still not_found, a closed one still refuses, and the rule sees the tray as it
// is now, not as an earlier write in the same transaction found it.
func TestRuleReadsTheRelatedRecordTheCheckRead(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, rollupSpec)
		ctx := service.AsSystem(context.Background())
		svc := b.app.Service
		tray, err := svc.Create(ctx, "trays", map[string]any{}, service.WriteOpts{})
		require.NoError(t, err)
		_, err = svc.Create(ctx, "cups", map[string]any{"tray": "0190e4c3-9a6b-7000-8000-000000000000", "ml": json.Number("1")}, service.WriteOpts{})
		var se *service.Error
		require.True(t, errors.As(err, &se), "%v", err)
		require.Equal(t, "not_found", se.Fields[0].Code, "%+v", se.Fields)

		_, err = svc.Create(ctx, "cups", map[string]any{"tray": tray.ID, "ml": json.Number("1")}, service.WriteOpts{})
		require.NoError(t, err)
		_, err = svc.Update(ctx, "trays", tray.ID, map[string]any{"open": false}, false, service.WriteOpts{})
		require.NoError(t, err)
		_, err = svc.Create(ctx, "cups", map[string]any{"tray": tray.ID, "ml": json.Number("1")}, service.WriteOpts{})
		require.True(t, errors.As(err, &se), "%v", err)
		require.Equal(t, service.Code("tray_closed"), se.Code)

		res := b.do("POST", "/api/batch", map[string]any{"operations": []any{
			op("PATCH", "/api/trays/"+tray.ID, map[string]any{"open": true}),
			op("POST", "/api/cups", map[string]any{"tray": tray.ID, "ml": 5}),
			op("PATCH", "/api/trays/"+tray.ID, map[string]any{"open": false}),
			op("POST", "/api/cups", map[string]any{"tray": tray.ID, "ml": 6}),
		}})
		require.Equal(t, http.StatusConflict, res.status, "the tray closed by operation 2 refuses operation 3: %s", res.raw)
		require.Contains(t, res.body["detail"], "operation 3")
		res = b.do("POST", "/api/batch", map[string]any{"operations": []any{
			op("PATCH", "/api/trays/"+tray.ID, map[string]any{"open": true}),
			op("POST", "/api/cups", map[string]any{"tray": tray.ID, "ml": 5}),
		}})
		require.Equal(t, http.StatusOK, res.status, "reopened in the same transaction, the tray takes the cup: %s", res.raw)
		require.Equal(t, rollupState{json.Number("6"), json.Number("2"), json.Number("5"), json.Number("0"), int64(5)}, b.rollups("/api/trays/"+tray.ID))
	})
}

func fieldsOf(err error) any {
	var se *service.Error
	if errors.As(err, &se) {
		return se.Fields
	}
	return err
}

// A rollup over no children reads its default where it has one — the value a new parent
// starts with — both where one UPDATE computes it and where it is converted in Go: a min or
// max went from its default on a new parent to null once its last child was deleted (found
// by a helper with fleet.yaml). Without a default a min or max over no children is null.
func TestRollupOverNoChildrenReadsItsDefault(t *testing.T) {
	t.Parallel()
	src := `resources:
  boxes:
    fields:
      low: {type: integer, default: 0, rollup: {min: n, of: items}}
      high: {type: integer, default: -1, rollup: {max: n, of: items}}
      top: {type: integer, rollup: {max: n, of: items}}
      many: {type: integer, default: 3, rollup: {count: true, of: items}}
      items: {type: relation, to: items, inverse: box}
    access: {list: public, view: public, create: public, update: public, delete: public}
  crates:
    fields:
      low: {type: number, default: 7, rollup: {min: n, of: items}}
      many: {type: number, default: 2, rollup: {count: true, of: items}}
      items: {type: relation, to: items, inverse: crate}
    access: {list: public, view: public, create: public, update: public, delete: public}
  items:
    fields:
      n: {type: integer, required: true}
      box: {type: relation, to: boxes}
      crate: {type: relation, to: crates}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		box, crate := b.create("boxes", map[string]any{}), b.create("crates", map[string]any{})
		state := func() []any {
			x, c := b.do("GET", "/api/boxes/"+box, nil), b.do("GET", "/api/crates/"+crate, nil)
			return []any{x.body["low"], x.body["high"], x.body["top"], x.body["many"], c.body["low"], c.body["many"]}
		}
		start := []any{json.Number("0"), json.Number("-1"), nil, json.Number("3"), json.Number("7"), json.Number("2")}
		require.Equal(t, start, state(), "a new parent")
		item := b.create("items", map[string]any{"n": 5, "box": box, "crate": crate})
		require.Equal(t, []any{json.Number("5"), json.Number("5"), json.Number("5"), json.Number("1"), json.Number("5"), json.Number("1")}, state())
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/items/"+item, nil).status)
		require.Equal(t, start, state(), "its last child deleted")
	})
}

// A computed field reading a rollup follows the children's writes: it kept the value of the
// parent's own last write (double 0 beside total 5, found while reviewing two-level rollups).
// A computed value its field refuses fails the child's write with 409 logic_failed.
func TestComputedFieldReadingARollupFollowsTheChildren(t *testing.T) {
	t.Parallel()
	src := `resources:
  carts:
    fields:
      total: {type: integer, default: 0, rollup: {sum: qty, of: lines}}
      double: {type: integer, max: 100, compute: "record.total * 2"}
      label: {type: string, compute: "'cart of ' + string(record.double)"}
      lines: {type: relation, to: lines, inverse: cart}
    access: {list: public, view: public, create: public, update: public, delete: public}
  lines:
    fields:
      cart: {type: relation, to: carts}
      qty: {type: integer, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		cart := b.create("carts", map[string]any{})
		state := func() []any {
			got := b.do("GET", "/api/carts/"+cart, nil)
			return []any{got.body["total"], got.body["double"], got.body["label"]}
		}
		require.Equal(t, []any{json.Number("0"), json.Number("0"), "cart of 0"}, state())
		line := b.create("lines", map[string]any{"cart": cart, "qty": 5})
		require.Equal(t, []any{json.Number("5"), json.Number("10"), "cart of 10"}, state())
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/lines/"+line, map[string]any{"qty": 7}).status)
		require.Equal(t, []any{json.Number("7"), json.Number("14"), "cart of 14"}, state())
		res := b.do("POST", "/api/lines", map[string]any{"cart": cart, "qty": 50})
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "logic_failed", res.body["error"], string(res.raw))
		require.EqualValues(t, 1, b.count("lines"), "nothing written")
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/lines/"+line, nil).status)
		require.Equal(t, []any{json.Number("0"), json.Number("0"), "cart of 0"}, state())
	})
}

// A child's write computes again only the parent's computed fields that read its rollups: all
// of them ran, so a field computed from auth.role failed for an anonymous child's write (409
// logic_failed) and took the child writer's role otherwise (found by a hostile review).
func TestRecomputeLeavesComputedFieldsNotReadingARollup(t *testing.T) {
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
  carts:
    fields:
      total: {type: integer, default: 0, rollup: {sum: qty, of: lines}}
      double: {type: integer, compute: "record.total * 2"}
      saved_by: {type: string, compute: "auth.role"}
      lines: {type: relation, to: lines, inverse: cart}
    access: {list: public, view: public, create: [staff], update: [staff], delete: [staff]}
  lines:
    fields:
      cart: {type: relation, to: carts}
      qty: {type: integer, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		cart := b.create("carts", map[string]any{})
		before := b.do("GET", "/api/carts/"+cart, nil).body["saved_by"]
		res := b.anon("POST", "/api/lines", map[string]any{"cart": cart, "qty": 2})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		got := b.do("GET", "/api/carts/"+cart, nil)
		require.Equal(t, json.Number("4"), got.body["double"])
		require.Equal(t, before, got.body["saved_by"], "a field not reading the rollup changed by a child's write")
	})
}
