package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/service"
)

func TestUpdateReplaceDeleteWithETags(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id := b.create("products", map[string]any{"name": "Boot", "price": 10, "stock": 5, "description": "warm"})

		res := b.do("PATCH", "/api/products/"+id, map[string]any{"price": "12.50"}, "If-Match", `"1"`)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, json.Number("12.5"), res.body["price"])
		require.Equal(t, "warm", res.body["description"], "PATCH keeps other fields")
		require.Equal(t, `"2"`, res.header.Get("ETag"))
		require.NotEqual(t, res.body["created_at"], res.body["updated_at"])

		res = b.do("PATCH", "/api/products/"+id, map[string]any{"price": 1}, "If-Match", `"1"`)
		require.Equal(t, http.StatusPreconditionFailed, res.status)
		require.Equal(t, "precondition_failed", res.body["error"])

		res = b.do("PUT", "/api/products/"+id, map[string]any{"name": "Boot 2", "price": 3})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Nil(t, res.body["description"], "PUT resets absent fields")
		require.Equal(t, json.Number("0"), res.body["stock"], "PUT restores defaults")

		res = b.do("PUT", "/api/products/"+id, map[string]any{"name": "Boot 3"})
		require.Equal(t, http.StatusBadRequest, res.status)
		require.Equal(t, map[string]string{"price": "required"}, fieldCodes(res.body))

		res = b.do("PATCH", "/api/products/"+id, map[string]any{"name": nil})
		require.Equal(t, http.StatusBadRequest, res.status)
		require.Equal(t, map[string]string{"name": "required"}, fieldCodes(res.body))

		get := b.do("GET", "/api/products/"+id, nil, "If-None-Match", `"3"`)
		require.Equal(t, http.StatusNotModified, get.status)

		require.Equal(t, http.StatusPreconditionFailed, b.do("DELETE", "/api/products/"+id, nil, "If-Match", `"1"`).status)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/products/"+id, nil, "If-Match", `"3"`).status)
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/products/"+id, nil).status)
		require.Equal(t, http.StatusNotFound, b.do("DELETE", "/api/products/"+id, nil).status)
	})
}

// If-Match may list ETags (RFC 9110 §13.1.1): a write goes ahead when the record is at any of
// them, whatever their order, and is refused when it is at none. A helper's trial found a
// list never matched, even with the current tag in it.
func TestIfMatchTakesAListOfETags(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id := b.create("products", map[string]any{"name": "Boot", "price": 10})
		path := "/api/products/" + id
		res := b.do("PATCH", path, map[string]any{"price": 11}, "If-Match", `"7", "1"`)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, `"2"`, res.header.Get("ETag"))
		res = b.do("PATCH", path, map[string]any{"price": 12}, "If-Match", `"2", "9"`)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))

		for _, list := range []string{`"1", "2"`, `W/"3", "4"`, `"abc", "0"`} {
			res = b.do("PATCH", path, map[string]any{"price": 13}, "If-Match", list)
			require.Equal(t, http.StatusPreconditionFailed, res.status, "%s: %s", list, res.raw)
			require.Equal(t, "precondition_failed", res.body["error"])
		}
		require.Equal(t, json.Number("12"), b.do("GET", path, nil).body["price"], "no refused write changed it")
		require.Equal(t, http.StatusPreconditionFailed, b.do("DELETE", path, nil, "If-Match", `"1", "2"`).status)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", path, nil, "If-Match", `"1", "3"`).status)
	})
}

// Concurrent PATCHes of one record without If-Match all land, one after another: the update
// locks the row it read (PostgreSQL), so none finds the record changed under it and answers
// 412 although the client asked for no precondition.
func TestConcurrentPatchesWithoutIfMatchAllLand(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		// products has N:M tags (locked, then read by a statement of its own on PostgreSQL);
		// categories has none (locked and read by one statement).
		cases := []struct{ res, field, format string }{{"products", "price", "%d.50"}, {"categories", "description", "note %d"}}
		ids := []string{b.create("products", map[string]any{"name": "Boot", "price": 10, "stock": 0}),
			b.create("categories", map[string]any{"name": "Shoes", "slug": "shoes"})}
		for c, tc := range cases {
			const n = 16
			var wg sync.WaitGroup
			statuses := make([]int, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := b.do("PATCH", "/api/"+tc.res+"/"+ids[c], map[string]any{tc.field: fmt.Sprintf(tc.format, 10+i)})
					statuses[i] = res.status
				}()
			}
			wg.Wait()
			for i, st := range statuses {
				require.Equal(t, http.StatusOK, st, "%s: patch %d", tc.res, i)
			}
			rec, _, err := b.app.Service.Get(service.AsSystem(context.Background()), tc.res, ids[c], nil)
			require.NoError(t, err)
			require.Equal(t, int64(1+n), rec.Version, "%s: every patch wrote once", tc.res)
		}
	})
}

func TestManyToManyLinks(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		t1 := b.create("tags", map[string]any{"name": "a"})
		t2 := b.create("tags", map[string]any{"name": "b"})
		res := b.do("POST", "/api/products", map[string]any{"name": "X", "price": 1, "tags": []string{t1, t2, t1}})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		id := res.body["id"].(string)
		require.Equal(t, []any{t1, t2}, res.body["tags"])
		res = b.do("PATCH", "/api/products/"+id, map[string]any{"tags": []string{t2}})
		require.Equal(t, []any{t2}, res.body["tags"])
		require.Equal(t, []any{t2}, b.do("GET", "/api/products/"+id, nil).body["tags"])
		// Deleting a tag removes its links, not the product.
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/tags/"+t2, nil).status)
		require.Equal(t, []any{}, b.do("GET", "/api/products/"+id, nil).body["tags"])
	})
}

// PUT replaces every field but a many-to-many relation the body leaves out: its links stay
// (docs/api.md); an empty list clears them.
func TestPutKeepsLinksItDoesNotSend(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		tag := b.create("tags", map[string]any{"name": "winter"})
		id := b.create("products", map[string]any{"name": "Boot", "price": 10, "tags": []string{tag}})
		res := b.do("PUT", "/api/products/"+id, map[string]any{"name": "Boot 2", "price": 3})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []any{tag}, res.body["tags"], string(res.raw))
		res = b.do("PUT", "/api/products/"+id, map[string]any{"name": "Boot 3", "price": 3, "tags": []string{}})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []any{}, res.body["tags"], string(res.raw))
	})
}
