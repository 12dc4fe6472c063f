package kiln_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// listIDs lists path and returns the ids of the items, in order.
func (b *testBundle) listIDs(path string, headers ...string) []string {
	b.t.Helper()
	res := b.do("GET", path, nil, headers...)
	require.Equal(b.t, http.StatusOK, res.status, string(res.raw))
	ids := []string{}
	for _, it := range res.body["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

// taggedShop creates tags a, b, c and products p0 {a, b}, p1 {b}, p2 {}, p3 {a} (ids in
// creation order, which is id order).
func taggedShop(b *testBundle) (tags, products []string) {
	for _, name := range []string{"a", "b", "c"} {
		tags = append(tags, b.create("tags", map[string]any{"name": name}))
	}
	links := [][]string{{tags[0], tags[1]}, {tags[1]}, {}, {tags[0]}}
	for i, l := range links {
		products = append(products, b.create("products", map[string]any{"name": "P" + string(rune('0'+i)), "price": "1.00",
			"tags": l, "active": i != 3}))
	}
	return tags, products
}

func TestProductsFilteredByTag(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		tags, p := taggedShop(b)
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{query: "filter=" + url.QueryEscape(`"`+tags[0]+`" in tags`), want: []string{p[0], p[3]}},
			{query: "tags=" + tags[0], want: []string{p[0], p[3]}},
			{query: "tags=" + strings.ToUpper(tags[1]), want: []string{p[0], p[1]}},
			{query: "tags=" + tags[2], want: []string{}},
			{query: "filter=" + url.QueryEscape(`!("`+tags[0]+`" in tags)`), want: []string{p[1], p[2]}},
			{query: "filter=" + url.QueryEscape(`"`+tags[0]+`" in tags && "`+tags[1]+`" in tags`), want: []string{p[0]}},
			{query: "tags=" + tags[1] + "&filter=" + url.QueryEscape(`active`), want: []string{p[0], p[1]}},
		} {
			require.Equal(t, tc.want, b.listIDs("/api/products?"+tc.query), tc.query)
		}
		for query, code := range map[string]string{
			"tags=nope": "format",
			"filter=" + url.QueryEscape(`"nope" in tags`): "invalid_filter",
			"filter=" + url.QueryEscape(`tags == []`):     "invalid_filter",
		} {
			res := b.do("GET", "/api/products?"+query, nil)
			require.Equal(t, http.StatusBadRequest, res.status, query)
			require.Equal(t, code, fieldCodes(res.body)[strings.SplitN(query, "=", 2)[0]], query)
		}
	})
}

// shopWithTagInverse is the shop with tags ← products and products only staff see when inactive.
func shopWithTagInverse(t *testing.T) string {
	src, err := os.ReadFile("examples/shop/kiln.yaml")
	require.NoError(t, err)
	s := strings.Replace(string(src), "      name: {type: string, required: true, unique: true, min_length: 1, max_length: 50}\n",
		"      name: {type: string, required: true, unique: true, min_length: 1, max_length: 50}\n"+
			"      products: {type: relation, to: products, inverse: tags}\n", 1)
	s = strings.Replace(s, "    indexes:\n      - fields: [category, price]\n"+
		"      - fields: [price]\n      - fields: [name]\n    access:\n      list: public\n      view: public\n",
		"    indexes:\n      - fields: [category, price]\n"+
			"      - fields: [price]\n      - fields: [name]\n    access:\n"+
			"      list: \"record.active || auth.role in ['staff', 'admin']\"\n"+
			"      view: \"record.active || auth.role in ['staff', 'admin']\"\n", 1)
	require.Contains(t, s, "inverse: tags")
	require.Contains(t, s, "view: \"record.active")
	return s
}

func TestTagsListTheirProducts(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, shopWithTagInverse(t))
		tags, p := taggedShop(b)
		require.Equal(t, []string{tags[0], tags[1]}, b.listIDs("/api/tags?products="+p[0]))
		require.Equal(t, []string{tags[1]}, b.listIDs("/api/tags?filter="+url.QueryEscape(`"`+p[1]+`" in products`)))
		require.Equal(t, []string{tags[0]}, b.listIDs("/api/tags?products="+p[3]), "staff see the inactive product's tags")

		customer := b.token("customer")
		require.Equal(t, []string{}, b.listIDs("/api/tags?products="+p[3], "Authorization", "Bearer "+customer),
			"a product the caller cannot view links to nothing")
		require.Equal(t, []string{tags[0], tags[1], tags[2]}, b.listIDs("/api/tags?filter="+url.QueryEscape(`!("`+p[3]+`" in products)`),
			"Authorization", "Bearer "+customer))

		res := b.do("GET", "/api/tags?expand=products&sort=name", nil, "Authorization", "Bearer "+customer)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		got := map[string][]string{}
		for _, it := range res.body["items"].([]any) {
			m := it.(map[string]any)
			got[m["name"].(string)] = []string{}
			for _, prod := range m["products"].([]any) {
				got[m["name"].(string)] = append(got[m["name"].(string)], prod.(map[string]any)["id"].(string))
			}
		}
		require.Equal(t, map[string][]string{"a": {p[0]}, "b": {p[0], p[1]}, "c": {}}, got, "expanded, without what the caller cannot view")

		res = b.do("GET", "/api/tags/"+tags[0]+"?expand=products", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Len(t, res.body["products"].([]any), 2, "staff see both")
		res = b.do("PATCH", "/api/tags/"+tags[0], map[string]any{"products": []string{p[1]}})
		require.Equal(t, http.StatusBadRequest, res.status, "the inverse is read-only: links are written on products")
	})
}

// kiln test's expand check reads the links by raw SQL: through an N:M inverse it reads the
// target's link table backwards and keeps what the role may view, as ?expand= does.
func TestRelatedReadsTheLinksOfBothSides(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, shopWithTagInverse(t))
		tags, p := taggedShop(b)
		env := b.app.NewTestEnv(b.srv.URL)
		ctx := context.Background()
		staff, err := env.Related(ctx, "staff", "tags", "products", tags)
		require.NoError(t, err)
		require.Equal(t, map[string][]string{tags[0]: sorted(p[0], p[3]), tags[1]: sorted(p[0], p[1]), tags[2]: {}}, staff)
		customer, err := env.Related(ctx, "customer", "tags", "products", tags)
		require.NoError(t, err)
		require.Equal(t, []string{p[0]}, customer[tags[0]], "p3 is inactive: customers cannot view it")
		own, err := env.Related(ctx, "staff", "products", "tags", []string{p[0]})
		require.NoError(t, err)
		require.Equal(t, sorted(tags[0], tags[1]), own[p[0]])
	})
}

func sorted(ids ...string) []string {
	sort.Strings(ids)
	return ids
}

// An id given twice in a to-many field is linked once, at its first place (docs/spec.md).
func TestToManyIDGivenTwiceIsLinkedOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		a, c := b.create("tags", map[string]any{"name": "a"}), b.create("tags", map[string]any{"name": "c"})
		p := b.create("products", map[string]any{"name": "P", "price": 1, "tags": []any{c, a, c}})
		got := b.do("GET", "/api/products/"+p, nil)
		require.Equal(t, []any{c, a}, got.body["tags"], string(got.raw))
		res := b.do("PATCH", "/api/products/"+p, map[string]any{"tags": []any{a, a, c}})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []any{a, c}, res.body["tags"], string(res.raw))
	})
}
