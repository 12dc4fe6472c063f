package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

const rulesSpec = `roles: [admin, staff, customer]
auth: {account: users}
resources:
  users:
    fields:
      name: string
  orders:
    fields:
      owner: {type: relation, to: users}
      status: {type: enum, values: [open, paid]}
      total: {type: decimal, scale: 2}
    access:
      list: "auth.role in ['admin', 'staff'] || record.owner == auth.id"
      view: "'admin' in auth.roles || (record.owner == auth.id && record.status != 'open')"
      create: "auth.role == 'customer'"
      update: "record.owner == auth.id && record.total < 100"
      delete: [admin]
`

func compileRules(t testing.TB, src string) (*Rules, error) {
	s, err := spec.Parse("k.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return CompileRules(s)
}

func TestRuleConditions(t *testing.T) {
	t.Parallel()
	rules, err := compileRules(t, rulesSpec)
	require.NoError(t, err)
	me := "0192f0a0-0000-7000-8000-000000000001"
	customer := &Auth{ID: me, Role: "customer", Roles: []string{"customer"}}
	staff := &Auth{ID: me, Role: "staff", Roles: []string{"staff"}}
	admin := &Auth{ID: me, Role: "admin", Roles: []string{"admin"}}
	cond := func(action spec.Action, a *Auth) query.Cond {
		c, err := rules.Rule("orders", action).Condition(a)
		require.NoError(t, err)
		return Simplify(c)
	}
	owner := query.Compare{Field: "owner", Op: query.Eq, Value: me}
	require.Equal(t, owner, cond(spec.ActionList, customer))
	require.True(t, IsTrue(cond(spec.ActionList, staff)))
	require.True(t, IsTrue(cond(spec.ActionView, admin)))
	require.Equal(t, query.And{owner, query.Compare{Field: "status", Op: query.Ne, Value: "open"}}, cond(spec.ActionView, customer))
	require.True(t, IsTrue(cond(spec.ActionCreate, customer)))
	require.True(t, IsFalse(cond(spec.ActionCreate, staff)))
	require.False(t, rules.Rule("orders", spec.ActionDelete).IsExpr())
	require.Equal(t, []string{"admin"}, rules.Rule("orders", spec.ActionDelete).Roles)
	require.Nil(t, rules.Rule("users", spec.ActionList))
}

func TestRuleErrorsCarryPositions(t *testing.T) {
	t.Parallel()
	bad := `roles: [admin]
auth: {account: users}
resources:
  users:
    fields:
      name: string
    access:
      list: "record.nam == 'x'"
      view: "record.name == record.name"
      update: "size(record.name) > 2"
      delete: "auth.email == 'x'"
      create: "record.name =="
`
	_, err := compileRules(t, bad)
	text := err.Error()
	require.Contains(t, text, "k.yaml:8:13: access.list: record.nam is not a field that rules can check")
	require.Contains(t, text, "k.yaml:9:13: access.view: rules compare a field with a constant, not two fields")
	require.Contains(t, text, "k.yaml:10:15: access.update: rules compare record fields with constants and auth attributes")
	require.Contains(t, text, "k.yaml:11:15: access.delete: auth.email is not an auth attribute")
	require.Contains(t, text, "k.yaml:12:15: access.create: at 1:15")
}

// get() and count() belong to business rules: an access rule that calls one is told what to
// write instead, not CEL's "did you mean 'getDate' or 'getHours'?" (a new user's trial).
func TestAccessRuleWithALogicFunctionSaysWhatToWrite(t *testing.T) {
	t.Parallel()
	_, err := compileRules(t, `roles: [admin]
auth: {account: users}
resources:
  users:
    fields:
      org: string
    access:
      list: "record.org == get('users', auth.id).org"
      view: "count('users', 'org == record.org') > 0"
`)
	require.Error(t, err)
	text := err.Error()
	require.Contains(t, text, "k.yaml:8:13: access.list: at 1:18: get() reads a record in business rules (rules:, default_expr, computed fields), not in access rules")
	require.Contains(t, text, "exists('users', 'id == auth.id && org == record.org')")
	require.Contains(t, text, "k.yaml:9:13: access.view: at 1:6: count() counts records in business rules (rules:), not in access rules")
	require.NotContains(t, text, "did you mean")
}

func FuzzRuleCompile(f *testing.F) {
	for _, s := range []string{`auth.role == 'admin'`, `record.owner == auth.id`, `'a' in auth.roles && !(record.status in ['x'])`,
		`record.total >= 1.5 || auth.id == null`, `record.name.startsWith('x')`, `((true))`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		if len(rule) > 500 {
			return
		}
		src := "roles: [admin]\nauth: {account: users}\nresources:\n  users:\n    fields:\n      name: string\n      owner: uuid\n      total: {type: decimal, scale: 2}\n      status: string\n    access:\n      list: " + quoteYAML(rule) + "\n"
		s, err := spec.Parse("k.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			return
		}
		rules, err := CompileRules(s)
		if err != nil {
			return
		}
		r := rules.Rule("users", spec.ActionList)
		for _, a := range fuzzPrincipals {
			c, err := r.Condition(a)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%q: non-client error %T: %v", rule, err, err)
				}
				continue
			}
			checkRuleAgrees(t, rule, r, a, Simplify(c))
		}
	})
}

var fuzzPrincipals = []*Auth{
	{ID: "0192f0a0-0000-7000-8000-000000000001", Role: "admin", Roles: []string{"admin"}},
	{Role: "admin", Roles: []string{"admin"}, Key: "k1"}, // an API key: no auth.id
	nil, // anonymous
}

var fuzzRecords = []map[string]any{
	{"name": "x", "owner": "0192f0a0-0000-7000-8000-000000000001", "total": value.Decimal{Units: 150, Scale: 2}, "status": "a"},
	{"name": "", "owner": "0192f0a0-0000-7000-8000-000000000002", "total": value.Decimal{Units: -5, Scale: 2}, "status": "x"},
	{},
}

// checkRuleAgrees: the translated condition, the oracle (Holds) and Decide agree on every
// sample record: a rule means the same in SQL as in its CEL.
func checkRuleAgrees(t *testing.T, src string, r *Rule, a *Auth, c query.Cond) {
	holds, known, err := r.Decide(a)
	if err != nil {
		t.Fatalf("%q: Decide failed where Condition did not: %v", src, err)
	}
	if a != nil && known && ((holds && !IsTrue(c)) || (!holds && !IsFalse(c))) {
		t.Fatalf("%q as %+v: Decide says %v for every record, the condition is %#v", src, a, holds, c)
	}
	for _, rec := range fuzzRecords {
		get := func(f string) any { return rec[f] }
		h, err := r.Holds(a, get)
		if err != nil {
			t.Fatalf("%q: Holds failed where Condition did not: %v", src, err)
		}
		if want := query.Eval(c, get); a != nil && h != want {
			t.Fatalf("%q as %+v on %v: Holds %v, condition %v (%#v)", src, a, rec, h, want, c)
		}
		if known && h != holds {
			t.Fatalf("%q as %+v on %v: Decide said %v for every record, Holds %v", src, a, rec, holds, h)
		}
	}
}

func quoteYAML(s string) string {
	out := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r < 0x20 || r == 0x7f:
			out = append(out, ' ')
		default:
			out = append(out, string(r)...)
		}
	}
	return string(append(out, '"'))
}

// An API key acts with a role but is no account: auth.id is missing, so record fields compared
// with it are false (not an error, and never records whose owner is empty).
func TestRulesWithoutAnAccountID(t *testing.T) {
	t.Parallel()
	rules, err := compileRules(t, rulesSpec)
	require.NoError(t, err)
	key := func(role string) *Auth { return &Auth{Role: role, Roles: []string{role}, Key: "k1"} }
	c, err := rules.Rule("orders", spec.ActionList).Condition(key("admin"))
	require.NoError(t, err)
	require.True(t, IsTrue(Simplify(c)))
	c, err = rules.Rule("orders", spec.ActionList).Condition(key("customer"))
	require.NoError(t, err)
	require.True(t, IsFalse(Simplify(c)), "a customer key owns no orders: %#v", c)
	c, err = rules.Rule("orders", spec.ActionUpdate).Condition(key("customer"))
	require.NoError(t, err)
	require.True(t, IsFalse(Simplify(c)))
}

// A rule that follows to-one relations becomes Rel conditions over the related records'
// fields, typed by the related resource; the oracle reads the same path through get.
func TestRuleFollowsRelations(t *testing.T) {
	t.Parallel()
	src := rulesSpec + `  items:
    fields:
      order: {type: relation, to: orders}
    access:
      list: "record.order.owner == auth.id && record.order.total >= 10 && record.order.status in ['paid']"
      view: "record.order.owner.name == 'x'"
`
	rules, err := compileRules(t, src)
	require.NoError(t, err)
	me := "0192f0a0-0000-7000-8000-000000000001"
	a := &Auth{ID: me, Role: "customer", Roles: []string{"customer"}}
	c, err := rules.Rule("items", spec.ActionList).Condition(a)
	require.NoError(t, err)
	require.Equal(t, query.And{
		query.And{
			query.Rel{Field: "order", Cond: query.Compare{Field: "owner", Op: query.Eq, Value: me}},
			query.Rel{Field: "order", Cond: query.Compare{Field: "total", Op: query.Ge, Value: value.Decimal{Units: 1000, Scale: 2}}},
		},
		query.Rel{Field: "order", Cond: query.In{Field: "status", Values: []any{"paid"}}},
	}, c)
	c, err = rules.Rule("items", spec.ActionView).Condition(a)
	require.NoError(t, err)
	require.Equal(t, query.Rel{Field: "order", Cond: query.Rel{Field: "owner", Cond: query.Compare{Field: "name", Op: query.Eq, Value: "x"}}}, c)

	holds, err := rules.Rule("items", spec.ActionList).Holds(a, func(name string) any {
		return map[string]any{"order.owner": me, "order.total": value.Decimal{Units: 1500, Scale: 2}, "order.status": "paid"}[name]
	})
	require.NoError(t, err)
	require.True(t, holds)
}

// has(auth.<attribute>) is whether the principal has it — an account an id, an API key a key —
// and has(record.<field>) whether the field holds a value (IS NOT NULL). Both were refused at
// load as "a rule must be true or false" (a new user's trial: jobs.md suggests has(auth.role)).
func TestHasInRules(t *testing.T) {
	t.Parallel()
	old := `list: "auth.role in ['admin', 'staff'] || record.owner == auth.id"`
	require.Equal(t, 1, strings.Count(rulesSpec, old))
	src := strings.Replace(rulesSpec, old, `list: "has(auth.key) || (has(auth.id) && has(record.total))"`, 1)
	rules, err := compileRules(t, src)
	require.NoError(t, err)
	cond := func(a *Auth) query.Cond {
		c, err := rules.Rule("orders", spec.ActionList).Condition(a)
		require.NoError(t, err)
		return Simplify(c)
	}
	require.True(t, IsTrue(cond(&Auth{Role: "staff", Roles: []string{"staff"}, Key: "k1"})), "a key")
	require.Equal(t, query.Compare{Field: "total", Op: query.Ne}, cond(&Auth{ID: "0192f0a0-0000-7000-8000-000000000001", Role: "customer", Roles: []string{"customer"}}))
	require.True(t, IsFalse(cond(&Auth{Role: "customer", Roles: []string{"customer"}})), "neither an id nor a key")
	require.True(t, query.Eval(query.Compare{Field: "total", Op: query.Ne}, func(string) any { return value.FromUnits(1, 2) }))
	require.False(t, query.Eval(query.Compare{Field: "total", Op: query.Ne}, func(string) any { return nil }))
	links := strings.Replace(rulesSpec, "      owner: {type: relation, to: users}\n", "      owner: {type: relation, to: users}\n      readers: {type: relation, to: users, many: true}\n", 1)
	links = strings.Replace(links, old, `list: "has(record.readers)"`, 1)
	_, err = compileRules(t, links)
	require.ErrorContains(t, err, "has() of record.readers, a list of links, always holds", "no column to test: it would reach SQL as one")
	rule := rules.Rule("orders", spec.ActionList)
	for _, c := range []struct {
		a     *Auth
		total any
		want  bool
	}{
		{&Auth{Role: "staff", Roles: []string{"staff"}, Key: "k1"}, nil, true},
		{&Auth{ID: "0192f0a0-0000-7000-8000-000000000001", Role: "customer"}, value.FromUnits(1, 2), true},
		{&Auth{ID: "0192f0a0-0000-7000-8000-000000000001", Role: "customer"}, nil, false},
		{&Auth{Role: "customer"}, value.FromUnits(1, 2), false},
	} {
		got, err := rule.Holds(c.a, func(f string) any {
			if f == "total" {
				return c.total
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, c.want, got, "the oracle agrees: %+v %v", c.a, c.total)
	}
}
