package service

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

func newTestService(t testing.TB) *Service {
	s, err := spec.Load("../../examples/shop/kiln.yaml", spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	svc, err := New(Config{Spec: s}, nil)
	require.NoError(t, err)
	return svc
}

func TestParseList(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	p, err := svc.ParseList("products", url.Values{"sort": {"-price,name"}, "limit": {"50"}, "fields": {"name"},
		"expand": {"category"}, "stock": {"3"}, "count": {"true"}})
	require.NoError(t, err)
	require.Equal(t, []query.Sort{{Field: "price", Desc: true}, {Field: "name"}}, p.Query.Sort)
	require.Equal(t, 50, p.Query.Limit)
	require.Equal(t, query.Compare{Field: "stock", Op: query.Eq, Value: int64(3)}, p.Query.Where)
	require.True(t, p.Query.Count)
	require.Equal(t, []string{"name", "category"}, p.Fields, "an expanded relation is shown though fields does not name it")
	require.Equal(t, []string{"category"}, p.Expand)

	_, err = svc.ParseList("products", url.Values{"sort": {"nope"}, "limit": {"0"}, "page": {"2"}, "cursor": {"x"}})
	e := AsError(err)
	require.Equal(t, CodeMalformed, e.Code)
	codes := map[string]string{}
	for _, f := range e.Fields {
		codes[f.Field] = f.Code
	}
	require.Equal(t, map[string]string{"sort": "invalid_sort", "limit": "range", "cursor": "conflict"}, codes)
}

// A sort by a field that has no order says why, not that it is no field (a new user sorted by
// a file field and was told to use fields of the resource).
func TestUnsortableFieldsSayWhy(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	for name, want := range map[string]string{
		"nope":  `cannot sort by "nope": use fields of products, optionally prefixed with -`,
		"image": `cannot sort by "image": a file has no order; sort by another field`,
		"tags":  `cannot sort by "tags": it lists other records; sort by a field of one value`,
	} {
		_, err := svc.ParseList("products", url.Values{"sort": {name}})
		e := AsError(err)
		require.Len(t, e.Fields, 1, name)
		require.Equal(t, want, e.Fields[0].Message, name)
	}
}

func TestCursorIsBoundToItsSort(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	r := svc.resources["products"]
	p, err := svc.ParseList("products", url.Values{"sort": {"-price"}})
	require.NoError(t, err)
	c := p.cursorAfter(r, &recordStub)
	_, err = svc.ParseList("products", url.Values{"sort": {"-price"}, "cursor": {c}})
	require.NoError(t, err)
	_, err = svc.ParseList("products", url.Values{"sort": {"name"}, "cursor": {c}})
	require.Error(t, err)
}

func FuzzParseList(f *testing.F) {
	for _, q := range []string{"sort=-price,name&limit=10", "fields=name,price&expand=category,tags", "filter=price%3E1",
		"cursor=eyJzIjoiIiwidiI6WyJ4Il19", "page=3&limit=100", "expand=category.products.tags", "expand=category..products,.,tags.", "name=x&stock=1&active=true&category=null", "sort=id,-id", "limit=-1"} {
		f.Add(q)
	}
	svc := newTestService(f)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := svc.ParseList("products", q)
		if err != nil {
			if AsError(err).Code != CodeMalformed {
				t.Fatalf("list params gave %v", err)
			}
			return
		}
		if p.Query.Limit < 1 || p.Query.Limit > MaxLimit || len(p.Query.Sort) > maxSortKeys {
			t.Fatalf("accepted out-of-range params: %+v", p.Query)
		}
	})
}
