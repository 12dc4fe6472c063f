package kiln_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/store"
)

// On PostgreSQL a PATCH that writes only its row and its event reads the record without a
// lock and writes both in one statement, alone in its transaction, made only where the
// record's version is still the one read. When another write came between, nothing of it was
// written and the update runs again the usual way (the row locked), on the record as it is
// now; a record deleted between is 404.
func TestPatchWritesAloneUnlessTheRecordMoved(t *testing.T) {
	t.Parallel()
	var between atomic.Pointer[func()] // runs once, inside the next update's before-hook
	var hookRuns atomic.Int32
	x := &kiln.Extensions{}
	x.Before("products", kiln.Update, func(context.Context, kiln.Operation, *kiln.Record) error {
		hookRuns.Add(1)
		if f := between.Swap(nil); f != nil {
			(*f)()
		}
		return nil
	})
	b := setupExt(t, "postgres", x)
	ctx := context.Background()
	elsewhere := func(q string, args ...any) func() {
		return func() {
			require.NoError(t, b.app.Store.InTx(ctx, func(tx *store.Exec) error { return tx.ExecRaw(ctx, q, args...) }))
		}
	}
	p := b.create("products", map[string]any{"name": "Mug", "price": 5, "stock": 5})

	alone, mark := b.app.Store.Alone(), b.lastEvent()
	res := b.do("PATCH", "/api/products/"+p, map[string]any{"price": 7})
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, `"2"`, res.header.Get("ETag"))
	require.Equal(t, alone+1, b.app.Store.Alone(), "the row and its event were the whole transaction")
	evs := b.eventsAfter(mark)
	require.Equal(t, []string{"products update"}, summary(evs))
	require.Equal(t, json.Number("5"), values(t, evs[0].Old)["price"])
	require.Equal(t, json.Number("7"), values(t, evs[0].New)["price"])

	// Another write between the read and the update: the update runs again on its result.
	f := elsewhere("UPDATE products SET stock = 9, kiln_version = kiln_version + 1 WHERE id = ?", p)
	between.Store(&f)
	alone, mark, runs := b.app.Store.Alone(), b.lastEvent(), hookRuns.Load()
	res = b.do("PATCH", "/api/products/"+p, map[string]any{"price": 8})
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, json.Number("8"), res.body["price"])
	require.Equal(t, json.Number("9"), res.body["stock"], "the other write is kept")
	require.Equal(t, `"4"`, res.header.Get("ETag"), "its version follows the other write's")
	require.Equal(t, runs+2, hookRuns.Load(), "the write ran twice")
	require.Equal(t, alone, b.app.Store.Alone(), "the second run locked the row in a transaction")
	evs = b.eventsAfter(mark)
	require.Equal(t, []string{"products update"}, summary(evs), "one event, the second run's")
	require.Equal(t, json.Number("9"), values(t, evs[0].Old)["stock"])
	got := b.do("GET", "/api/products/"+p, nil)
	require.Equal(t, json.Number("8"), got.body["price"])
	require.Equal(t, `"4"`, got.header.Get("ETag"))

	// If-Match against the version read: a stale one is refused, a current one written alone.
	res = b.do("PATCH", "/api/products/"+p, map[string]any{"price": 9}, "If-Match", `"3"`)
	require.Equal(t, http.StatusPreconditionFailed, res.status, string(res.raw))
	alone = b.app.Store.Alone()
	res = b.do("PATCH", "/api/products/"+p, map[string]any{"price": 9}, "If-Match", `"4"`)
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, alone+1, b.app.Store.Alone())

	// What changes a record without its version: a deleted category's ON DELETE SET NULL, a
	// link written from elsewhere. The update runs again on the record as it is now.
	cat := b.create("categories", map[string]any{"name": "Kitchen", "slug": "kitchen"})
	tag := b.create("tags", map[string]any{"name": "blue"})
	q := b.create("products", map[string]any{"name": "Bowl", "price": 5, "category": cat})
	f = elsewhere("DELETE FROM categories WHERE id = ?", cat)
	between.Store(&f)
	alone = b.app.Store.Alone()
	res = b.do("PATCH", "/api/products/"+q, map[string]any{"price": 6})
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Nil(t, res.body["category"], "the category's delete cleared it")
	require.Equal(t, alone, b.app.Store.Alone())
	f = elsewhere("INSERT INTO products_tags (source_id, target_id, position) VALUES (?, ?, 0)", q, tag)
	between.Store(&f)
	res = b.do("PATCH", "/api/products/"+q, map[string]any{"price": 7})
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, []any{tag}, res.body["tags"], "the link written elsewhere")
	require.Equal(t, alone, b.app.Store.Alone())

	// Deleted between the read and the update: not found, and nothing written.
	f = elsewhere("DELETE FROM products WHERE id = ?", p)
	between.Store(&f)
	mark = b.lastEvent()
	res = b.do("PATCH", "/api/products/"+p, map[string]any{"price": 10})
	require.Equal(t, http.StatusNotFound, res.status, string(res.raw))
	require.Empty(t, b.eventsAfter(mark))
}
