package kiln_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// What a before-hook changes is checked as a request's values are: computed fields are
// computed again, a link it sets must name a record the writer may link and is written, a
// state it sets must be one the machine allows, and the rules run again. Only the type and
// constraint checks ran: a computed line_total kept its value from before the hook, a state
// the request could not have set was written (a helper's trial with a clinic's hooks).
func TestBeforeHookChangesAreChecked(t *testing.T) {
	t.Parallel()
	const missing = "0192f0a0-0000-7000-8000-00000000dead"
	x := &kiln.Extensions{}
	x.Before("order_items", kiln.Create, func(_ context.Context, _ kiln.Operation, rec *kiln.Record) error {
		rec.Fields["quantity"] = int64(3)
		return nil
	})
	x.Before("orders", kiln.Create, func(_ context.Context, _ kiln.Operation, rec *kiln.Record) error {
		if rec.Fields["notes"] == "sneak" {
			rec.Fields["status"] = "paid"
		}
		return nil
	})
	x.Before("products", kiln.Create, func(_ context.Context, _ kiln.Operation, rec *kiln.Record) error {
		switch rec.Fields["name"] {
		case "lost":
			rec.Fields["category"] = missing
		case "tagged":
			rec.Fields["tags"] = []string{rec.Fields["description"].(string)} // the tag's id, sent as the description
		}
		return nil
	})
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupExt(t, dialect, x)
		tag := b.create("tags", map[string]any{"name": "sale"})
		product := b.create("products", map[string]any{"name": "Mug", "price": 5, "stock": 9})
		order := b.create("orders", map[string]any{})
		item := b.do("POST", "/api/order_items", map[string]any{"order": order, "product": product, "quantity": 1})
		require.Equal(t, http.StatusCreated, item.status, string(item.raw))
		require.Equal(t, json.Number("3"), item.body["quantity"])
		require.Equal(t, json.Number("15"), item.body["line_total"], "computed from the quantity the hook set")

		sneak := b.do("POST", "/api/orders", map[string]any{"notes": "sneak"})
		require.Equal(t, http.StatusConflict, sneak.status, string(sneak.raw))
		require.Equal(t, "invalid_transition", sneak.body["error"], string(sneak.raw))

		lost := b.do("POST", "/api/products", map[string]any{"name": "lost", "price": 1})
		require.Equal(t, http.StatusBadRequest, lost.status, string(lost.raw))
		require.Equal(t, map[string]string{"category": "not_found"}, fieldCodes(lost.body), string(lost.raw))

		tagged := b.do("POST", "/api/products", map[string]any{"name": "tagged", "price": 1, "description": tag})
		require.Equal(t, http.StatusCreated, tagged.status, string(tagged.raw))
		got := b.do("GET", "/api/products/"+tagged.body["id"].(string), nil)
		require.Equal(t, []any{tag}, got.body["tags"], "the link the hook set is written: "+string(got.raw))
	})
}

// An after-hook that panics is logged, not answered: the write committed, and its 500 told
// the client it failed — one that retried without an idempotency key wrote it twice, one with
// a key was answered 500 and then 201 (a helper's trial). The hooks after it still run.
func TestAfterHookPanicIsLoggedNotAnswered(t *testing.T) {
	t.Parallel()
	var later atomic.Int32
	x := &kiln.Extensions{}
	x.After("tags", kiln.Create, func(context.Context, kiln.Operation, *kiln.Record) { panic("mailer exploded") })
	x.After("tags", kiln.Create, func(context.Context, kiln.Operation, *kiln.Record) { later.Add(1) })
	logs := &lockedBuffer{}
	b := setupConfig(t, "sqlite", "", slog.New(slog.NewJSONHandler(logs, nil)), nil, func(cfg *kiln.Config) { cfg.Extensions = x })
	res := b.do("POST", "/api/tags", map[string]any{"name": "sale"}, "Idempotency-Key", "k-1")
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	require.Equal(t, int64(1), b.count("tags"))
	require.Equal(t, int32(1), later.Load(), "the next hook ran")
	require.Contains(t, logs.String(), "an after-hook panicked; the write had committed")
	require.Contains(t, logs.String(), "mailer exploded")
	again := b.do("POST", "/api/tags", map[string]any{"name": "sale"}, "Idempotency-Key", "k-1")
	require.Equal(t, http.StatusCreated, again.status, string(again.raw))
	require.Equal(t, res.body["id"], again.body["id"])
}

// After-hooks hear of every record a write committed, by the operation that wrote it: the
// nested items an order is created with, the products their effect took stock from, the
// order an action's step cancelled and the products its effect restocked. Only the request's
// own record was heard of, and an action's as an update whatever its steps did (a helper's
// trial: a Go action that cancelled one appointment and created another fired one hook, an
// update with the new record).
func TestAfterHooksHearEveryWrite(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var heard []string
	x := &kiln.Extensions{}
	for _, res := range []string{"orders", "order_items", "products"} {
		for _, op := range []kiln.Operation{kiln.Create, kiln.Update, kiln.Delete} {
			x.After(res, op, func(_ context.Context, op kiln.Operation, rec *kiln.Record) {
				mu.Lock()
				defer mu.Unlock()
				heard = append(heard, rec.Resource+" "+string(op))
			})
		}
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := heard
		heard = nil
		return out
	}
	b := setupExt(t, "sqlite", x)
	p := b.create("products", map[string]any{"name": "Mug", "price": 5, "stock": 9})
	require.Equal(t, []string{"products create"}, take())
	order := b.do("POST", "/api/orders", map[string]any{"items": []any{map[string]any{"product": p, "quantity": 2}}})
	require.Equal(t, http.StatusCreated, order.status, string(order.raw))
	require.ElementsMatch(t, []string{"orders create", "order_items create", "products update"}, take())
	res := b.do("POST", "/api/orders/"+order.body["id"].(string)+"/cancel", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.ElementsMatch(t, []string{"orders update", "products update"}, take(), "the step's update and the restock")
	res = b.do("PATCH", "/api/products/"+p, map[string]any{"name": "Mug"})
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Empty(t, take(), "a PATCH that changed nothing wrote nothing")
}

// A before-hook that honours the request's deadline and returns its context's error is the
// request's timeout, 503 query_timeout as when the database work runs past it — not a 500
// (a helper's trial: a hook ignoring its context got the 503, one honouring it the 500).
func TestHookMeetingTheDeadlineIsATimeout(t *testing.T) {
	t.Parallel()
	x := &kiln.Extensions{}
	x.Before("notes", kiln.Create, func(ctx context.Context, _ kiln.Operation, _ *kiln.Record) error {
		<-ctx.Done()
		return ctx.Err()
	})
	src := "server:\n  query_timeout: 200ms\nresources:\n  notes:\n    fields:\n      text: string\n" +
		"    access: {list: public, view: public, create: public, update: public, delete: public}\n"
	b := setupConfig(t, "sqlite", src, nil, nil, func(cfg *kiln.Config) { cfg.Extensions = x })
	res := b.do("POST", "/api/notes", map[string]any{"text": "x"})
	require.Equal(t, http.StatusServiceUnavailable, res.status, string(res.raw))
	require.Equal(t, "query_timeout", res.body["error"], string(res.raw))
	require.Equal(t, int64(0), b.count("notes"))
}

// A CEL default the request left to it is computed again from what a before-hook changed,
// as a computed field is: it kept the value computed from the request's name (a review).
func TestBeforeHookChangeRecomputesCELDefaults(t *testing.T) {
	t.Parallel()
	src := `resources:
  items:
    fields:
      name: {type: string, required: true}
      label: {type: string, default_expr: "record.name + '-x'"}
      shout: {type: string, compute: "record.name + '!'"}
`
	x := &kiln.Extensions{}
	x.Before("items", kiln.Create, func(_ context.Context, _ kiln.Operation, rec *kiln.Record) error {
		rec.Fields["name"] = "hooked"
		return nil
	})
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupConfig(t, dialect, src, nil, nil, func(cfg *kiln.Config) { cfg.Extensions = x })
		res := b.do("POST", "/api/items", map[string]any{"name": "orig"})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		require.Equal(t, "hooked!", res.body["shout"], string(res.raw))
		require.Equal(t, "hooked-x", res.body["label"], string(res.raw))
	})
}

// A before-hook runs once per PATCH: on PostgreSQL the one-statement update could not fold
// what the hook changed (a relation) and ran the whole write again, the hook with it (a
// review: two calls, so a hook's mail or API call went twice).
func TestBeforeHookRunsOncePerUpdate(t *testing.T) {
	t.Parallel()
	src := `resources:
  cats:
    fields:
      name: {type: string, required: true}
  items:
    fields:
      name: {type: string, required: true}
      cat: {type: relation, to: cats}
`
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			var catID atomic.Value
			x := &kiln.Extensions{}
			x.Before("items", kiln.Update, func(_ context.Context, _ kiln.Operation, rec *kiln.Record) error {
				calls.Add(1)
				rec.Fields["cat"] = catID.Load().(string)
				return nil
			})
			b := setupConfig(t, dialect, src, nil, nil, func(cfg *kiln.Config) { cfg.Extensions = x })
			catID.Store(b.do("POST", "/api/cats", map[string]any{"name": "c"}).body["id"].(string))
			item := b.do("POST", "/api/items", map[string]any{"name": "i"})
			require.Equal(t, http.StatusCreated, item.status, string(item.raw))
			res := b.do("PATCH", "/api/items/"+item.body["id"].(string), map[string]any{"name": "j"})
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			require.Equal(t, catID.Load(), res.body["cat"])
			require.Equal(t, int64(1), calls.Load(), "before-hook calls for one PATCH")
		})
	}
}
