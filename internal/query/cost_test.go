package query

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnindexedCountsPredicatesNoIndexServes(t *testing.T) {
	t.Parallel()
	indexed := func(f string) bool { return f == "price" || f == "id" }
	tests := []struct {
		name string
		cond Cond
		want int
	}{
		{name: "Nil", cond: nil, want: 0},
		{name: "IndexedRange", cond: Compare{Field: "price", Op: Gt, Value: int64(1)}, want: 0},
		{name: "IndexedNull", cond: Compare{Field: "price", Op: Eq}, want: 0},
		{name: "IndexedNotEqual", cond: Compare{Field: "price", Op: Ne, Value: int64(1)}, want: 1},
		{name: "UnindexedField", cond: Compare{Field: "name", Op: Eq, Value: "x"}, want: 1},
		{name: "IndexedIn", cond: In{Field: "id", Values: []any{"a"}}, want: 0},
		{name: "NotIn", cond: In{Field: "id", Values: []any{"a"}, Not: true}, want: 1},
		{name: "MatchOnIndexedField", cond: Match{Field: "price", Kind: Prefix, Text: "1"}, want: 1},
		{name: "Membership", cond: Has{Field: "tags", ID: "a"}, want: 0},
		{name: "MembershipUnderNot", cond: Not{Cond: Has{Field: "tags", ID: "a"}}, want: 1},
		{name: "UnderNot", cond: Not{Cond: And{Compare{Field: "price", Op: Gt, Value: int64(1)}, Match{Field: "name", Text: "a"}}}, want: 2},
		{name: "Mixed", cond: Or{Compare{Field: "price", Op: Lt, Value: int64(1)}, Not{Cond: Match{Field: "name", Kind: Contains, Text: "a"}},
			Match{Field: "name", Kind: Contains, Text: "b"}}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Unindexed(tt.cond, indexed))
		})
	}
}
