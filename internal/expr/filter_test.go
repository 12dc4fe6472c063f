package expr

import (
	"reflect"
	"strings"
	"testing"
	"time"

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
		{src: `"0192A6A0-0000-7000-8000-000000000002" in tags`, want: query.Has{Field: "tags", ID: "0192a6a0-0000-7000-8000-000000000002"}},
		// A decimal compared with an integer by ==, != and in, as by < and >: exactly, not as a double.
		{src: `price == 0`, want: query.Compare{Field: "price", Op: query.Eq, Value: value.Decimal{Units: 0, Scale: 2}}},
		{src: `12 != price`, want: query.Compare{Field: "price", Op: query.Ne, Value: value.Decimal{Units: 1200, Scale: 2}}},
		{src: `price in [0, 1]`, want: query.In{Field: "price", Values: []any{value.Decimal{Units: 0, Scale: 2}, value.Decimal{Units: 100, Scale: 2}}}},
		{src: `price == 9007199254740993 || stock == 1`, want: query.Or{
			query.Compare{Field: "price", Op: query.Eq, Value: value.Decimal{Units: 900719925474099300, Scale: 2}},
			query.Compare{Field: "stock", Op: query.Eq, Value: int64(1)}}},
		{src: `!("0192a6a0-0000-7000-8000-000000000002" in tags) && stock > 0`, want: query.And{
			query.Not{Cond: query.Has{Field: "tags", ID: "0192a6a0-0000-7000-8000-000000000002"}},
			query.Compare{Field: "stock", Op: query.Gt, Value: int64(0)}}},
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
		`pric > 1`:                "undeclared reference to 'pric'",
		`price`:                   "must be a condition",
		`price > stock`:           "at 1:9: price is compared with stock, another field: a filter compares a field with a constant",
		`created_at < updated_at`: "at 1:14: created_at is compared with updated_at, another field",
		`created_at < timestamp("2026-01-01T00:00:00Z") + duration("1h")`: "at 1:48: created_at must be compared with a constant timestamp(\"2026-01-31T12:00:00Z\") (RFC 3339)",
		`created_at < timestamp("2026-13-01T00:00:00Z")`:                  `at 1:24: timestamp("2026-13-01T00:00:00Z") is not RFC 3339`,
		`stock > 1 && stock < 2 * 3`:                                      "at 1:24: stock must be compared with a constant",
		`price > 0.001`:                                                   "at 1:9: price takes at most 2 digits",
		`price > 10.005`:                                                  "at 1:9: price takes at most 2 digits after the point: 10.005 has more",
		`price > 1e30`:                                                    "at 1:9: price takes numbers of at most 18 digits in all",
		`name == "x" || 1 == 1`:                                           "comparison needs a field",
		`size(name) > 3`:                                                  "needs a field",
		`tags == "x"`:                                                     "== cannot be applied to a list of text and text",
		`tags == ["x"]`:                                                   `tags is a list of ids: test membership with "<id>" in tags`,
		`"x" in tags`:                                                     "needs a constant UUID",
		`name in tags`:                                                    "needs a constant id",
		`tags in ["x"]`:                                                   "in cannot be applied to a list of text and a list of text",
		`price > "31"`:                                                    "at 1:7: > cannot be applied to a number and text",
		`active == 1`:                                                     "== cannot be applied to a boolean and an integer",
		`created_at > 5`:                                                  "> cannot be applied to a timestamp and an integer",
		`image == null`:                                                   "image is a file field: filters cannot compare it",
		`name.startsWith(1)`:                                              "startsWith cannot be applied to text with an integer",
		`name[0] == "x"`:                                                  "indexing cannot be applied to text and an integer",
		`price > duration("1s")`:                                          "> cannot be applied to a number and a duration",
		`imag == null`:                                                    "undeclared reference to 'imag'",
		`stock > 1.5`:                                                     "whole number",
		`category.name == "x"`:                                            `at 1:9: category is a relation: a filter compares this resource's own fields, a relation by its id (category == "<id>"); to filter by what the categories record holds, list categories with that filter and use their ids`,
		"stock > 1 &&\n  category.name == 'x'":                            `at 2:11: category is a relation`,
		`category . name == "x"`:                                          `category is a relation`,
		`name.size == 1`:                                                  "text has no fields to select",
		`[1,2].exists(x, x > 1)`:                                          "filter supports comparisons of fields with constants",
		// CEL's parser gives its own depth limit no position: the message has none (a trial saw
		// "at -1:0: expression recursion limit exceeded: 64").
		strings.Repeat("(", 63) + `name == "x"` + strings.Repeat(")", 63): "nests deeper than 32 levels",
	} {
		_, err := f.Compile(src)
		require.ErrorContains(t, err, msg, src)
		var e *Error
		require.ErrorAs(t, err, &e)
	}
}

// An enum is compared with its own values only, as the shorthand (?status=bogus) requires: a
// value no record can hold is the client's mistake, not an empty page.
func TestFilterRefusesValuesOutsideAnEnum(t *testing.T) {
	t.Parallel()
	s, err := spec.Load("../../examples/shop/kiln.yaml", spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	f, err := NewFilter(s.Resource("orders"))
	require.NoError(t, err)
	for src, at := range map[string]string{`status == "bogus"`: "1:11", `status != "Paid"`: "1:11", `status in ["paid", "bogus"]`: "1:20", `"bogus" == status`: "1:1"} {
		_, err := f.Compile(src)
		require.ErrorContains(t, err, "at "+at+": status must be compared with one of: pending, paid, shipped, delivered, cancelled, refunded", src)
	}
	got, err := f.Compile(`status in ["paid", "shipped"] || status == null`)
	require.NoError(t, err)
	require.Equal(t, query.Or{query.In{Field: "status", Values: []any{"paid", "shipped"}}, query.Compare{Field: "status", Op: query.Eq, Value: nil}}, got)
}

// A json field and a 1:N inverse are not filterable, and the error says so; a hidden field
// stays unknown.
func TestFilterNamesFieldsItCannotUse(t *testing.T) {
	t.Parallel()
	src := "resources:\n  owners:\n    fields:\n      pets: {type: relation, to: pets, inverse: owner}\n      secret: {type: string, hidden: true}\n" +
		"  pets:\n    fields:\n      owner: {type: relation, to: owners}\n      extra: json\n"
	s, err := spec.Parse("k.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	pets, err := NewFilter(s.Resource("pets"))
	require.NoError(t, err)
	_, err = pets.Compile(`extra == null`)
	require.EqualError(t, err, "at 1:1: extra is a json field: filters cannot compare it")
	owners, err := NewFilter(s.Resource("owners"))
	require.NoError(t, err)
	_, err = owners.Compile(`size(pets) > 0`)
	require.EqualError(t, err, "at 1:6: pets lists the pets records that point here: filter pets by its relation instead")
	_, err = owners.Compile(`secret == "x"`)
	require.EqualError(t, err, "at 1:1: undeclared reference to 'secret'")
}

// Text that looks like SQL is a value compared with the field, never part of a statement.
func TestFilterKeepsInjectionTextAsAValue(t *testing.T) {
	t.Parallel()
	f, err := NewFilter(shopProducts(t))
	require.NoError(t, err)
	c, err := f.Compile(`name == "a'); DROP TABLE x; --"`)
	require.NoError(t, err)
	require.Equal(t, query.Compare{Field: "name", Op: query.Eq, Value: "a'); DROP TABLE x; --"}, c)
}

// FuzzFilter: a filter either is refused with a client error or compiles to a condition on
// the resource's filterable fields only, with values of their kinds, the same whether it was
// cached or not.
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
		again, err := flt.compile(src)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("%q: cached %#v, compiled again %#v (%v)", src, c, again, err)
		}
		walkCond(c, func(field string, values []any) {
			if _, ok := flt.fields[field]; !ok {
				t.Fatalf("%q: condition on %q, not a filterable field", src, field)
			}
			for _, v := range values {
				if !kindHolds(flt.kinds[field], v) {
					t.Fatalf("%q: %s compared with %#v (%T)", src, field, v, v)
				}
			}
		})
	})
}

// walkCond calls fn with the field and the constants of every comparison in c.
func walkCond(c query.Cond, fn func(field string, values []any)) {
	switch x := c.(type) {
	case query.Compare:
		fn(x.Field, []any{x.Value})
	case query.In:
		fn(x.Field, x.Values)
	case query.Match:
		fn(x.Field, []any{x.Text})
	case query.Not:
		walkCond(x.Cond, fn)
	case query.And:
		for _, p := range x {
			walkCond(p, fn)
		}
	case query.Or:
		for _, p := range x {
			walkCond(p, fn)
		}
	}
}

// kindHolds reports whether v is a constant of kind k (nil is null, allowed for any kind).
func kindHolds(k kind, v any) bool {
	var ok bool
	switch v.(type) {
	case nil:
		return true
	case string:
		ok = k == kindString || k == kindUUID
	case int64:
		ok = k == kindInt
	case float64:
		ok = k == kindFloat
	case value.Decimal:
		ok = k == kindDecimal
	case bool:
		ok = k == kindBool
	case time.Time:
		ok = k == kindTime
	}
	return ok
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
