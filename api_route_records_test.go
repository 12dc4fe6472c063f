package kiln_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// A Go route writes several records atomically through call.Records.Tx, as the caller: a
// refused write (a rule, the access rule, an API key's scopes) rolls back what came before it,
// and after-hooks hear of the writes only once they commit. List, Update and Delete act as the
// caller too.
func TestCustomRouteWritesInOneTransaction(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		var heard atomic.Int64
		b := setupExt(t, dialect, recordRoutes(&heard))
		checkRecordRoutes(t, b, &heard)
	})
}

// recordRoutes are routes writing and reading through call.Records; heard counts products
// the after-hook heard were created.
func recordRoutes(heard *atomic.Int64) *kiln.Extensions {
	x := &kiln.Extensions{}
	x.After("products", kiln.Create, func(context.Context, kiln.Operation, *kiln.Record) { heard.Add(1) })
	x.Handle("POST /api/restock", func(w http.ResponseWriter, r *http.Request, call kiln.RouteCall) {
		var in struct{ Slug, Price string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		var made []string
		err := call.Records.Tx(r.Context(), func(ctx context.Context, tx *kiln.Tx) error {
			made = made[:0]
			c, err := tx.Create(ctx, "categories", map[string]any{"name": "Cat " + in.Slug, "slug": in.Slug})
			if err != nil {
				return err
			}
			p, err := tx.Create(ctx, "products", map[string]any{"name": "P " + in.Slug, "price": in.Price, "category": c.ID})
			if err != nil {
				return err
			}
			made = append(made, c.ID, p.ID)
			return nil
		})
		if err != nil {
			call.Error(w, r, err)
			return
		}
		kiln.WriteJSON(w, http.StatusCreated, map[string]any{"ids": made})
	})
	x.Handle("GET /api/cheap", func(w http.ResponseWriter, r *http.Request, call kiln.RouteCall) {
		page, err := call.Records.List(r.Context(), "products", url.Values(r.URL.Query()))
		if err != nil {
			call.Error(w, r, err)
			return
		}
		names := []any{}
		for _, rec := range page.Records {
			names = append(names, rec.Fields["name"])
		}
		kiln.WriteJSON(w, http.StatusOK, map[string]any{"names": names, "next": page.NextCursor, "total": page.Total})
	})
	x.Handle("POST /api/rename/{id}", func(w http.ResponseWriter, r *http.Request, call kiln.RouteCall) {
		rec, err := call.Records.Update(r.Context(), "products", r.PathValue("id"), map[string]any{"name": "renamed"})
		if err == nil {
			err = call.Records.Delete(r.Context(), "products", rec.ID)
		}
		if err != nil {
			call.Error(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return x
}

func checkRecordRoutes(t *testing.T, b *testBundle, heard *atomic.Int64) {
	staff := bearer(b.token("staff"))
	before := b.count("categories")
	res := b.do("POST", "/api/restock", map[string]any{"slug": "mugs", "price": "-1"}, staff...)
	require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
	require.Equal(t, before, b.count("categories"), "the category made before the refused product is rolled back")
	res = b.do("POST", "/api/restock", map[string]any{"slug": "mugs", "price": "4.50"}) // as the admin
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	require.Equal(t, before+1, b.count("categories"))
	require.Eventually(t, func() bool { return heard.Load() == 1 }, 5e9, 1e7, "the after-hook heard of the committed product")
	res = b.do("POST", "/api/restock", map[string]any{"slug": "cups", "price": "3"}, bearer(b.token("customer"))...)
	require.Equal(t, http.StatusForbidden, res.status, "a customer may not create categories: %s", res.raw)
	key := b.do("POST", "/api/auth/keys", map[string]any{"name": "k", "role": "staff", "scopes": []string{"categories:create"}})
	require.Equal(t, http.StatusCreated, key.status, string(key.raw))
	res = b.do("POST", "/api/restock", map[string]any{"slug": "cups", "price": "3"}, bearer(key.body["key"].(string))...)
	require.Equal(t, http.StatusForbidden, res.status, "the key's scopes do not cover products: %s", res.raw)
	require.Equal(t, before+1, b.count("categories"), "its category is rolled back")

	res = b.do("GET", "/api/cheap?filter="+url.QueryEscape("price < 5")+"&count=true&limit=1", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Contains(t, res.body["names"], "P mugs")
	require.NotEmpty(t, res.body["total"])
	res = b.do("GET", "/api/cheap?filter=nope", nil)
	require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
	require.Equal(t, "filter", fieldCodesField(res.body), string(res.raw))

	id := res.body["request_id"].(string)
	require.NotEmpty(t, id)
	product := b.product("Kettle", "20", 5)
	require.Equal(t, http.StatusForbidden, b.do("POST", "/api/rename/"+product, nil, bearer(b.token("customer"))...).status)
	require.Equal(t, http.StatusNoContent, b.do("POST", "/api/rename/"+product, nil, staff...).status)
	require.Equal(t, http.StatusNotFound, b.do("GET", "/api/products/"+product, nil).status)
}

// fieldCodesField is the field the first error of a 400 names.
func fieldCodesField(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	f, _ := errs[0].(map[string]any)["field"].(string)
	return f
}
