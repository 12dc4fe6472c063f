package expr

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

const (
	tagA = "0192a6a0-0000-7000-8000-00000000000a"
	tagB = "0192a6a0-0000-7000-8000-00000000000b"
)

// The oracle reads filters from their CEL text; the translator turns them into conditions the
// store renders as SQL. On every record, both must decide the same.
func TestInterpretAgreesWithTheTranslation(t *testing.T) {
	t.Parallel()
	f, err := NewFilter(shopProducts(t))
	require.NoError(t, err)
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	records := []map[string]any{
		{"name": "Boots", "price": value.Decimal{Units: 4999, Scale: 2}, "stock": int64(3), "active": true, "sku": "B-1", "created_at": at,
			"tags": []string{tagA, tagB}},
		{"name": "apple", "price": value.Decimal{Units: 100, Scale: 2}, "stock": int64(0), "active": false, "sku": nil, "created_at": at.Add(time.Hour),
			"tags": []string{tagB}},
		{"name": "Tent", "price": value.Decimal{Units: 20000, Scale: 2}, "stock": nil, "active": nil, "description": nil, "created_at": at.Add(-time.Hour),
			"tags": []string{}},
	}
	filters := []string{
		`price > 10`, `10 < price`, `price >= 49.99`, `stock == 3`, `stock != 3`, `!(stock == 3)`, `stock < 1 || !active`,
		`active`, `!active`, `sku == null`, `sku != null`, `null == sku`, `!(sku == null)`, `name in ["Boots", "Tent"]`,
		`!(name in ["Boots"])`, `name.startsWith("B")`, `!name.endsWith("t")`, `description.contains("x")`,
		`!description.contains("x")`, `created_at > timestamp("2026-01-02T00:00:00Z")`, `name >= "T"`,
		`(active && price < 100) || !(stock >= 1)`, `true`, `!(price > 10 && stock > 0)`,
		`"` + tagA + `" in tags`, `"` + tagB + `" in tags && price < 100`, `!("` + tagA + `" in tags)`,
	}
	for _, src := range filters {
		c, err := f.Compile(src)
		require.NoError(t, err, src)
		for i, rec := range records {
			get := func(name string) any { return rec[name] }
			got, err := f.Interpret(src, get)
			require.NoError(t, err, src)
			require.Equal(t, query.Eval(c, get), got, fmt.Sprintf("%s on record %d", src, i))
		}
	}
}

func TestInterpretSemantics(t *testing.T) {
	t.Parallel()
	f, err := NewFilter(shopProducts(t))
	require.NoError(t, err)
	get := func(name string) any { return map[string]any{"name": "Tent", "sku": nil}[name] }
	for src, want := range map[string]bool{
		`sku == "x"`: false, `sku != "x"`: false, `!(sku == "x")`: true, `sku == null`: true, `name != null`: true,
		`name == "Tent"`: true, `sku < "z"`: false,
	} {
		got, err := f.Interpret(src, get)
		require.NoError(t, err)
		require.Equal(t, want, got, src)
	}
}

// FuzzInterpret: for any filter the translator accepts, the oracle decides every record the
// same way as the translated condition.
func FuzzInterpret(f *testing.F) {
	for _, s := range []string{`price > 10`, `!(sku == "x") || stock <= 2`, `name in ["a"] && active`,
		`!description.startsWith("W")`, `created_at < timestamp("2026-01-02T00:00:00Z")`, `-1 < stock`,
		`"` + tagA + `" in tags || !("` + tagB + `" in tags)`} {
		f.Add(s)
	}
	flt, err := NewFilter(shopProducts(f))
	require.NoError(f, err)
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	records := []map[string]any{
		{"name": "a", "price": value.Decimal{Units: 1000, Scale: 2}, "stock": int64(2), "active": true, "sku": "x", "created_at": at,
			"tags": []string{tagA}},
		{"name": "W", "price": nil, "stock": nil, "active": nil, "sku": nil, "description": "Wool", "created_at": at, "tags": []string{}},
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := flt.Compile(src)
		if err != nil {
			return
		}
		for i, rec := range records {
			get := func(name string) any { return rec[name] }
			got, err := flt.Interpret(src, get)
			if err != nil {
				t.Fatalf("%s: the oracle failed on a filter the API accepts: %v", src, err)
			}
			if want := query.Eval(c, get); got != want {
				t.Fatalf("%s on record %d: oracle %v, translation %v", src, i, got, want)
			}
		}
	})
}

// Rules read by the oracle decide as their translated row conditions do, for every principal.
func TestRuleHoldsAgreesWithTheCondition(t *testing.T) {
	t.Parallel()
	rules, err := compileRules(t, rulesSpec)
	require.NoError(t, err)
	me, other := "0192f0a0-0000-7000-8000-000000000001", "0192f0a0-0000-7000-8000-000000000002"
	records := []map[string]any{
		{"owner": me, "status": "open", "total": value.Decimal{Units: 5000, Scale: 2}},
		{"owner": me, "status": "paid", "total": value.Decimal{Units: 50000, Scale: 2}},
		{"owner": other, "status": "paid", "total": value.Decimal{Units: 100, Scale: 2}},
		{"owner": nil, "status": nil, "total": nil},
	}
	principals := []*Auth{
		{ID: me, Role: "customer", Roles: []string{"customer"}},
		{ID: me, Role: "admin", Roles: []string{"admin"}},
		{Role: "customer", Roles: []string{"customer"}, Key: "k1"}, // an API key: no auth.id
	}
	for _, action := range spec.Actions {
		rule := rules.Rule("orders", action)
		for pi, a := range principals {
			c, err := rule.Condition(a)
			require.NoError(t, err)
			for ri, rec := range records {
				get := func(name string) any { return rec[name] }
				got, err := rule.Holds(a, get)
				require.NoError(t, err)
				want := query.Eval(Simplify(c), get)
				if !rule.IsExpr() {
					want = rule.Public || slices.Contains(rule.Roles, a.Role)
				}
				require.Equal(t, want, got, "%s, principal %d, record %d", action, pi, ri)
			}
		}
	}
}

// Decide says, from the rule's CEL alone, whether an action lets a principal through for every
// record, for none, or depends on the record; when it says every or none, Holds agrees on
// every record.
func TestRuleDecide(t *testing.T) {
	t.Parallel()
	rules, err := compileRules(t, rulesSpec)
	require.NoError(t, err)
	me := "0192f0a0-0000-7000-8000-000000000001"
	as := func(role string) *Auth { return &Auth{ID: me, Role: role, Roles: []string{role}} }
	const depends = "depends"
	for _, tt := range []struct {
		action spec.Action
		who    *Auth
		want   any // true, false or depends
	}{
		{action: spec.ActionList, who: as("admin"), want: true},
		{action: spec.ActionList, who: as("staff"), want: true},
		{action: spec.ActionList, who: as("customer"), want: depends},
		{action: spec.ActionList, who: nil, want: false},
		{action: spec.ActionView, who: as("admin"), want: true},
		{action: spec.ActionView, who: as("staff"), want: depends},
		{action: spec.ActionCreate, who: as("customer"), want: true},
		{action: spec.ActionCreate, who: as("staff"), want: false},
		{action: spec.ActionUpdate, who: as("admin"), want: depends},
		{action: spec.ActionDelete, who: as("admin"), want: true},
		{action: spec.ActionDelete, who: as("staff"), want: false},
		{action: spec.ActionList, who: &Auth{Role: "customer", Roles: []string{"customer"}, Key: "k"}, want: false}, // no auth.id: owns nothing
	} {
		holds, known, err := rules.Rule("orders", tt.action).Decide(tt.who)
		require.NoError(t, err)
		got := any(depends)
		if known {
			got = holds
		}
		require.Equal(t, tt.want, got, "%s as %+v", tt.action, tt.who)
	}
	src := `roles: [a, b, nobody]
auth: {account: users}
resources:
  users:
    fields:
      name: string
      n: integer
    access:
      list: "!(auth.role == 'a') && record.n > 1"
      view: "auth.role == 'a' || !(record.n > 1 || auth.role == 'b')"
      update: "record.name == 'x' && auth.role == 'nobody'"
      delete: "record.n in [1, 2] || auth.role in ['b']"
`
	rules, err = compileRules(t, src)
	require.NoError(t, err)
	for _, tt := range []struct {
		action spec.Action
		role   string
		want   any
	}{
		{spec.ActionList, "a", false}, {spec.ActionList, "b", depends},
		{spec.ActionView, "a", true}, {spec.ActionView, "b", false},
		{spec.ActionUpdate, "a", false},
		{spec.ActionDelete, "b", true}, {spec.ActionDelete, "a", depends},
	} {
		holds, known, err := rules.Rule("users", tt.action).Decide(as(tt.role))
		require.NoError(t, err)
		got := any(depends)
		if known {
			got = holds
		}
		require.Equal(t, tt.want, got, "%s as %s", tt.action, tt.role)
		for _, rec := range []map[string]any{{"name": "xa", "n": int64(2)}, {"name": "y", "n": int64(0)}, {}} {
			h, err := rules.Rule("users", tt.action).Holds(as(tt.role), func(f string) any { return rec[f] })
			require.NoError(t, err)
			if known {
				require.Equal(t, holds, h, "%s as %s on %v: Decide said every record", tt.action, tt.role, rec)
			}
		}
	}
}

// A UUID written in upper case is the same id to the oracle as to the translation, which reads
// it as a UUID: in an N:M relation's ids and against a UUID field (found by FuzzInterpret).
func TestInterpretReadsUpperCaseIDsAsTheTranslationDoes(t *testing.T) {
	flt, err := NewFilter(shopProducts(t))
	require.NoError(t, err)
	rec := map[string]any{"id": tagB, "tags": []string{tagA}}
	get := func(name string) any { return rec[name] }
	for _, src := range []string{`"` + strings.ToUpper(tagA) + `" in tags`, `id == "` + strings.ToUpper(tagB) + `"`,
		`!("` + strings.ToUpper(tagB) + `" in tags)`, `id != "` + strings.ToUpper(tagA) + `"`} {
		c, err := flt.Compile(src)
		require.NoError(t, err, src)
		got, err := flt.Interpret(src, get)
		require.NoError(t, err, src)
		require.True(t, got, src)
		require.True(t, query.Eval(c, get), src)
	}
}

// A decimal compared with an integer past 2^53, where doubles have no room for the digits: the
// oracle compares them exactly, as the translation does (it read price == 9007199254740992
// true of 9007199254740993.00, the store false, a review found).
func TestInterpretComparesDecimalsAndIntegersExactly(t *testing.T) {
	t.Parallel()
	f, err := NewFilter(shopProducts(t))
	require.NoError(t, err)
	rec := map[string]any{"price": value.Decimal{Units: 900719925474099300, Scale: 2}}
	get := func(n string) any { return rec[n] }
	for src, want := range map[string]bool{
		`price == 9007199254740992`: false, `price == 9007199254740993`: true, `price > 9007199254740992`: true,
		`price <= 9007199254740992`: false, `price in [9007199254740992]`: false, `price in [1, 9007199254740993]`: true,
	} {
		c, err := f.Compile(src)
		require.NoError(t, err, src)
		got, err := f.Interpret(src, get)
		require.NoError(t, err, src)
		require.Equal(t, want, got, src)
		require.Equal(t, want, query.Eval(c, get), src)
	}
}
