package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// bulkProducts inserts n products in one transaction (test data, not the API under test).
// Prices repeat so sorts on price need the id tiebreaker.
func (b *testBundle) bulkProducts(n int, category string) []string {
	b.t.Helper()
	res := b.app.Spec.Resource("products")
	ids := make([]string, n)
	now := time.Now().UTC()
	err := b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
		for i := range n {
			vals := make([]any, len(res.Fields))
			for j, f := range res.Fields {
				switch f.Name {
				case "name":
					vals[j] = fmt.Sprintf("Product %05d", i)
				case "price":
					vals[j] = value.FromUnits(int64(i%97)*100+99, 2)
				case "stock":
					vals[j] = int64(i % 13)
				case "active":
					vals[j] = i%2 == 0
				case "category":
					if category != "" {
						vals[j] = category
					}
				}
			}
			ids[i] = uuid.Must(uuid.NewV7()).String()
			if err := tx.Insert(context.Background(), "products", &store.Record{ID: ids[i], CreatedAt: now, UpdatedAt: now, Version: 1, Values: vals}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(b.t, err)
	return ids
}

func (b *testBundle) walk(path string) (seen []string, prices []string) {
	b.t.Helper()
	next := path
	for pages := 0; next != ""; pages++ {
		require.Less(b.t, pages, 1000, "too many pages")
		res := b.do("GET", next, nil)
		require.Equal(b.t, http.StatusOK, res.status, string(res.raw))
		for _, it := range res.body["items"].([]any) {
			m := it.(map[string]any)
			seen = append(seen, m["id"].(string))
			if p, ok := m["price"].(json.Number); ok {
				prices = append(prices, p.String())
			}
		}
		next = ""
		if c, ok := res.body["next_cursor"].(string); ok {
			next = path + "&cursor=" + urlEncode(c)
		}
	}
	return seen, prices
}

// A hundred pages of each order, over ties that span pages (thirteen stock values, about 150
// rows each, pages of 20): every row is seen once. (It walked 10,000 rows in pages of 100, the
// same hundred pages with five times the rows: 150 s of CPU under the race detector.)
func TestCursorVisitsEveryRowOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		ids := b.bulkProducts(2000, "")
		for _, path := range []string{"/api/products?limit=20", "/api/products?limit=20&sort=-price,name", "/api/products?limit=20&sort=stock"} {
			seen, prices := b.walk(path)
			require.Len(t, seen, len(ids), path)
			require.ElementsMatch(t, ids, seen, path)
			if path == "/api/products?limit=20&sort=-price,name" {
				require.True(t, sort.SliceIsSorted(prices, func(i, j int) bool {
					a, _ := strconv.ParseFloat(prices[i], 64)
					c, _ := strconv.ParseFloat(prices[j], 64)
					return a > c
				}))
			}
		}
	})
}

func TestCursorIsStableUnderInserts(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		ids := b.bulkProducts(500, "")
		path := "/api/products?limit=50&sort=-price"
		seen := map[string]int{}
		next := path
		for next != "" {
			res := b.do("GET", next, nil)
			require.Equal(t, http.StatusOK, res.status)
			for _, it := range res.body["items"].([]any) {
				seen[it.(map[string]any)["id"].(string)]++
			}
			b.create("products", map[string]any{"name": "late", "price": "50.99"}) // lands mid-order
			next = ""
			if c, ok := res.body["next_cursor"].(string); ok {
				next = path + "&cursor=" + urlEncode(c)
			}
		}
		for _, id := range ids {
			require.Equal(t, 1, seen[id], "row %s seen %d times", id, seen[id])
		}
	})
}

func TestListFilterSortCountAndPages(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		b.bulkProducts(300, "")
		res := b.do("GET", "/api/products?count=true&limit=5&filter="+urlEncode(`price > 50 && active`)+"&sort=price", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		want := 0
		for i := range 300 {
			if float64(i%97)+0.99 > 50 && i%2 == 0 {
				want++
			}
		}
		require.Equal(t, json.Number(strconv.Itoa(want)), res.body["total"])
		items := res.body["items"].([]any)
		require.Len(t, items, 5)
		require.Equal(t, json.Number("50.99"), items[0].(map[string]any)["price"])

		res = b.do("GET", "/api/products?stock=3&fields=name,stock&page=2&limit=10&sort=name", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		first := res.body["items"].([]any)[0].(map[string]any)
		require.Equal(t, json.Number("3"), first["stock"])
		require.NotContains(t, first, "price")
		for _, system := range []string{"id", "created_at", "updated_at"} {
			require.Contains(t, first, system, "system fields are always returned, as the schema says")
		}

		res = b.do("GET", "/api/products?filter="+urlEncode(`name.startsWith("Product 001")`)+"&count=true", nil)
		require.Equal(t, json.Number("100"), res.body["total"])
	})
}

func TestExpandRunsConstantQueries(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		cat := b.create("categories", map[string]any{"name": "Shoes", "slug": "shoes"})
		tag1 := b.create("tags", map[string]any{"name": "red"})
		tag2 := b.create("tags", map[string]any{"name": "sale"})
		ids := b.bulkProducts(150, cat)
		for _, id := range ids[:20] {
			res := b.do("PATCH", "/api/products/"+id, map[string]any{"tags": []string{tag2, tag1}})
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
		}
		queries := func(limit int) int64 {
			before := b.app.Store.Queries()
			res := b.do("GET", fmt.Sprintf("/api/products?limit=%d&expand=category,tags", limit), nil)
			require.Equal(t, http.StatusOK, res.status)
			items := res.body["items"].([]any)
			require.Len(t, items, limit)
			first := items[0].(map[string]any)
			require.Equal(t, "Shoes", first["category"].(map[string]any)["name"])
			tags := first["tags"].([]any)
			require.Len(t, tags, 2)
			require.Equal(t, "sale", tags[0].(map[string]any)["name"], "link order is kept")
			return b.app.Store.Queries() - before
		}
		require.Equal(t, queries(10), queries(100))
		require.LessOrEqual(t, queries(100), int64(4))

		res := b.do("GET", "/api/categories/"+cat+"?expand=products", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Len(t, res.body["products"].([]any), 100, "inverse expansions are capped at 100")

		// An expanded relation is shown though ?fields= does not name it (it was dropped).
		res = b.do("GET", "/api/products?limit=1&fields=name&expand=category", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		first := res.body["items"].([]any)[0].(map[string]any)
		require.Equal(t, "Shoes", first["category"].(map[string]any)["name"], string(res.raw))
		require.NotContains(t, first, "price")
		res = b.do("GET", "/api/products/"+ids[0]+"?fields=name&expand=tags", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Len(t, res.body["tags"].([]any), 2, string(res.raw))
		require.NotContains(t, res.body, "category")
	})
}
