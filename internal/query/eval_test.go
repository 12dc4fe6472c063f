package query

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/value"
)

func TestEval(t *testing.T) {
	t.Parallel()
	rec := map[string]any{"name": "Boot", "price": value.FromUnits(2999, 2), "stock": int64(3), "active": true, "sku": nil,
		"tags": []string{"t1", "t2"}, "products": []any{"p1"}, "empty": []string{}}
	get := func(f string) any { return rec[f] }
	tests := []struct {
		cond Cond
		want bool
	}{
		{cond: Compare{Field: "price", Op: Gt, Value: value.FromUnits(1000, 2)}, want: true},
		{cond: Compare{Field: "stock", Op: Le, Value: int64(2)}, want: false},
		{cond: Compare{Field: "sku", Op: Eq}, want: true},
		{cond: Compare{Field: "sku", Op: Ne}, want: false},
		{cond: Compare{Field: "sku", Op: Eq, Value: "x"}, want: false},
		{cond: Compare{Field: "sku", Op: Ne, Value: "x"}, want: false},
		{cond: In{Field: "name", Values: []any{"Boot", "Hat"}}, want: true},
		{cond: In{Field: "name", Values: []any{"Hat"}, Not: true}, want: true},
		{cond: Match{Field: "name", Kind: Prefix, Text: "Bo"}, want: true},
		{cond: And{Compare{Field: "active", Op: Eq, Value: true}, Not{Cond: Compare{Field: "stock", Op: Eq, Value: int64(3)}}}, want: false},
		{cond: Or{}, want: false},
		{cond: And{}, want: true},
		{cond: Compare{Field: "stock", Op: Eq, Value: "3"}, want: false},
		{cond: Has{Field: "tags", ID: "t2"}, want: true},
		{cond: Has{Field: "tags", ID: "t3"}, want: false},
		{cond: Has{Field: "products", ID: "p1"}, want: true},
		{cond: Has{Field: "empty", ID: "t1"}, want: false},
		{cond: Has{Field: "sku", ID: "t1"}, want: false},
		{cond: Not{Cond: Has{Field: "tags", ID: "t3"}}, want: true},
	}
	for i, tt := range tests {
		require.Equal(t, tt.want, Eval(tt.cond, get), "case %d", i)
	}
}
