package expr

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

func shopProducts(t testing.TB) *spec.Resource {
	s, err := spec.Load("../../examples/shop/kiln.yaml", spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return s.Resource("products")
}

func TestFilterCompile(t *testing.T) {
	t.Parallel()
	f, err := NewFilter(shopProducts(t))
	require.NoError(t, err)
	ts, _ := value.ParseTime("2026-01-01T00:00:00Z")
	tests := []struct {
		src  string
		want query.Cond
	}{
		{src: `price > 10`, want: query.Compare{Field: "price", Op: query.Gt, Value: value.Decimal{Units: 1000, Scale: 2}}},
		{src: `10.5 <= price`, want: query.Compare{Field: "price", Op: query.Ge, Value: value.Decimal{Units: 1050, Scale: 2}}},
		{src: `name == "a" && stock < 5`, want: query.And{
			query.Compare{Field: "name", Op: query.Eq, Value: "a"},
			query.Compare{Field: "stock", Op: query.Lt, Value: int64(5)}}},
		{src: `!(active) || sku == null`, want: query.Or{
			query.Not{Cond: query.Compare{Field: "active", Op: query.Eq, Value: true}},
			query.Compare{Field: "sku", Op: query.Eq, Value: nil}}},
		{src: `name in ["a", "b"]`, want: query.In{Field: "name", Values: []any{"a", "b"}}},
		{src: `name.startsWith("Te")`, want: query.Match{Field: "name", Kind: query.Prefix, Text: "Te"}},
		{src: `created_at >= timestamp("2026-01-01T00:00:00Z")`, want: query.Compare{Field: "created_at", Op: query.Ge, Value: ts}},
		{src: `category == "0192a6a0-0000-7000-8000-000000000001"`, want: query.Compare{Field: "category", Op: query.Eq, Value: "0192a6a0-0000-7000-8000-000000000001"}},
	}
	for _, tt := range tests {
		got, err := f.Compile(tt.src)
		require.NoError(t, err, tt.src)
		require.Equal(t, tt.want, got, tt.src)
	}
}

func TestFilterRejects(t *testing.T) {
	t.Parallel()
	f, err := NewFilter(shopProducts(t))
	require.NoError(t, err)
	for src, msg := range map[string]string{
		`pric > 1`:                        "undeclared reference to 'pric'",
		`price`:                           "must be a condition",
		`price > stock`:                   "constant",
		`price > 0.001`:                   "at most 2 digits",
		`name == "x" || 1 == 1`:           "comparison needs a field",
		`size(name) > 3`:                  "needs a field",
		`tags == "x"`:                     "undeclared reference",
		`name == "a'); DROP TABLE x; --"`: "",
		`stock > 1.5`:                     "whole number",
		`[1,2].exists(x, x > 1)`:          "",
	} {
		_, err := f.Compile(src)
		if msg == "" {
			continue // translated or rejected, but never panics; injection text is just a value
		}
		require.ErrorContains(t, err, msg, src)
		var e *Error
		require.ErrorAs(t, err, &e)
	}
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{`price > 10 && name.startsWith("a")`, `!(active)`, `name in ["a"]`,
		`created_at < timestamp("2026-01-01T00:00:00Z")`, `((((((price>1))))))`, `sku == null`, `"a" == name`,
		`price > 1e308`, `stock > 9223372036854775807u`, `name == "\u0000"`} {
		f.Add(s)
	}
	flt, err := NewFilter(shopProducts(f))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, src string) {
		c, err := flt.Compile(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("non-client error %T: %v", err, err)
			}
			return
		}
		_ = c
	})
}

func BenchmarkFilterCompileUncached(b *testing.B) {
	f, err := NewFilter(shopProducts(b))
	require.NoError(b, err)
	for b.Loop() {
		if _, err := f.compile(`price > 10 && name.startsWith("T") && stock in [1, 2, 3]`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilterCompileCached(b *testing.B) {
	f, err := NewFilter(shopProducts(b))
	require.NoError(b, err)
	for b.Loop() {
		if _, err := f.Compile(`price > 10 && name.startsWith("T") && stock in [1, 2, 3]`); err != nil {
			b.Fatal(err)
		}
	}
}
