package expr

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

const membersSpec = `roles: [admin, member]
auth: {account: users}
resources:
  users:
    fields:
      name: string
  orgs:
    fields:
      name: string
      readers: {type: relation, to: users, many: true}
    access:
      list: "exists('memberships', 'org == record.id && user == auth.id')"
      view: "auth.id in record.readers"
  memberships:
    fields:
      org: {type: relation, to: orgs}
      user: {type: relation, to: users}
      role: {type: enum, values: [owner, member]}
    access:
      list: "record.user == auth.id || exists('memberships', \"user == auth.id && record.org == org && role == 'owner'\")"
  projects:
    fields:
      org: {type: relation, to: orgs}
    access:
      list: "!exists('memberships', 'org == record.org && user == auth.id && org.name != \"closed\"')"
      view: "exists('memberships', 'org == record.org')"
      update: "auth.id in record.org.readers"
  tasks:
    fields:
      project: {type: relation, to: projects}
    access:
      list: "exists('memberships', 'org == record.project.org && user == auth.id')"
`

// exists() becomes query.Exists on the tie's two fields, the rest of the filter its Cond;
// auth.id in <links> becomes query.Has; both under the to-one path the rule follows.
func TestMembershipRuleConditions(t *testing.T) {
	t.Parallel()
	rules, err := compileRules(t, membersSpec)
	require.NoError(t, err)
	me := "0192f0a0-0000-7000-8000-000000000001"
	member := &Auth{ID: me, Role: "member", Roles: []string{"member"}}
	key := &Auth{Role: "member", Roles: []string{"member"}, Key: "k1"}
	cond := func(res string, action spec.Action, a *Auth) query.Cond {
		c, err := rules.Rule(res, action).Condition(a)
		require.NoError(t, err)
		return Simplify(c)
	}
	mine := query.Compare{Field: "user", Op: query.Eq, Value: me}
	require.Equal(t, query.Exists{Field: "id", Resource: "memberships", Key: "org", Cond: mine}, cond("orgs", spec.ActionList, member))
	require.True(t, IsFalse(cond("orgs", spec.ActionList, key)), "an API key has no auth.id to tie")
	require.Equal(t, query.Has{Field: "readers", ID: me}, cond("orgs", spec.ActionView, member))
	require.True(t, IsFalse(cond("orgs", spec.ActionView, key)))
	require.Equal(t, query.Or{query.Compare{Field: "user", Op: query.Eq, Value: me},
		query.Exists{Field: "org", Resource: "memberships", Key: "org", Cond: query.And{mine, query.Compare{Field: "role", Op: query.Eq, Value: "owner"}}}},
		cond("memberships", spec.ActionList, member), "the tie may be written either way round")
	require.Equal(t, query.Not{Cond: query.Exists{Field: "org", Resource: "memberships", Key: "org",
		Cond: query.And{mine, query.Rel{Field: "org", Cond: query.Compare{Field: "name", Op: query.Ne, Value: "closed"}}}}},
		cond("projects", spec.ActionList, member), "the other record's fields follow its relations")
	require.Equal(t, query.Exists{Field: "org", Resource: "memberships", Key: "org"}, cond("projects", spec.ActionView, member),
		"a filter that is only the tie: any membership of the org")
	require.Equal(t, query.Rel{Field: "org", Cond: query.Has{Field: "readers", ID: me}}, cond("projects", spec.ActionUpdate, member))
	require.Equal(t, query.Rel{Field: "project", Cond: query.Exists{Field: "org", Resource: "memberships", Key: "org", Cond: mine}},
		cond("tasks", spec.ActionList, member))
}

// The oracle kiln test checks rows with decides exists() among the records it is given, and
// is unknown without them (Decide, Holds).
func TestOracleDecidesExists(t *testing.T) {
	t.Parallel()
	rules, err := compileRules(t, membersSpec)
	require.NoError(t, err)
	me, org := "0192f0a0-0000-7000-8000-000000000001", "0192f0a0-0000-7000-8000-0000000000aa"
	member := &Auth{ID: me, Role: "member", Roles: []string{"member"}}
	rec := func(vals map[string]any) func(string) any { return func(f string) any { return vals[f] } }
	memberships := []func(string) any{
		rec(map[string]any{"org": org, "user": "0192f0a0-0000-7000-8000-000000000002", "role": "owner"}),
		rec(map[string]any{"org": org, "user": me, "role": "member", "org.name": "closed"}),
	}
	others := func(res string) ([]func(string) any, error) {
		require.Equal(t, "memberships", res)
		return memberships, nil
	}
	orgRule := rules.Rule("orgs", spec.ActionList)
	holds, err := orgRule.HoldsAmong(member, rec(map[string]any{"id": org}), others)
	require.NoError(t, err)
	require.True(t, holds)
	holds, err = orgRule.HoldsAmong(member, rec(map[string]any{"id": "0192f0a0-0000-7000-8000-0000000000bb"}), others)
	require.NoError(t, err)
	require.False(t, holds)
	owners := rules.Rule("memberships", spec.ActionList)
	holds, err = owners.HoldsAmong(member, rec(map[string]any{"org": org, "user": "x"}), others)
	require.NoError(t, err)
	require.False(t, holds, "me is a member, not an owner, of org")
	notClosed := rules.Rule("projects", spec.ActionList)
	holds, err = notClosed.HoldsAmong(member, rec(map[string]any{"org": org}), others)
	require.NoError(t, err)
	require.True(t, holds, "my membership's org is closed, so no membership meets the filter")
	_, known, err := orgRule.Decide(member)
	require.NoError(t, err)
	require.False(t, known)
	holds, err = orgRule.Holds(member, rec(map[string]any{"id": org}))
	require.NoError(t, err)
	require.False(t, holds, "without the other records exists() is unknown: not held")
}

// A tie compares the two fields' stored values on both dialects, so they must be of one type:
// a date is no text on PostgreSQL, and SQLite keeps decimals in minor units of their scale.
func TestExistsTieNeedsOneType(t *testing.T) {
	t.Parallel()
	const base = `roles: [admin, member]
auth: {account: users}
resources:
  users:
    fields:
      name: string
  days:
    fields:
      day: date
      label: string
      amount: {type: decimal, scale: 4}
      price: {type: decimal, scale: 2}
      user: {type: relation, to: users}
  entries:
    fields:
      label: string
      day: date
      price: {type: decimal, scale: 2}
    access:
      list: RULE
`
	for rule, ok := range map[string]bool{
		`"exists('days', 'day == record.label && user == auth.id')"`:    false,
		`"exists('days', 'label == record.day && user == auth.id')"`:    false,
		`"exists('days', 'amount == record.price && user == auth.id')"`: false,
		`"exists('days', 'day == record.day && user == auth.id')"`:      true,
		`"exists('days', 'price == record.price && user == auth.id')"`:  true,
		`"exists('days', 'user == record.id')"`:                         true,
		`"exists('days', 'label == record.label')"`:                     true,
	} {
		_, err := compileRules(t, strings.Replace(base, "RULE", rule, 1))
		if ok {
			require.NoError(t, err, rule)
		} else {
			require.ErrorContains(t, err, "do not hold values of one type", rule)
		}
	}
}

// An enum compared with a text none of its values is a spec error in an access rule, as in
// logic: in an exists() filter `role != 'viewr'` let every member through (a new user's trial).
func TestAccessRuleEnumTypos(t *testing.T) {
	t.Parallel()
	const base = `roles: [admin, member]
auth: {account: users}
resources:
  users:
    fields:
      name: string
  memberships:
    fields:
      user: {type: relation, to: users}
      org: uuid
      role: {type: enum, values: [admin, editor, viewer]}
  contacts:
    fields:
      org: uuid
      status: {type: enum, values: [lead, client]}
    access:
      list: RULE
`
	for rule, want := range map[string]string{
		`"exists('memberships', \"org == record.org && user == auth.id && role != 'viewr'\")"`: `memberships.role is never "viewr": its values are admin, editor, viewer`,
		`"record.status == 'pendng' || auth.role == 'admin'"`:                                  `record.status is never "pendng"`,
		`"record.status in ['lead', 'clinet']"`:                                                `record.status is never "clinet"`,
		`"exists('memberships', \"org == record.org && role in ['admin', 'editor']\")"`:        "",
		`"record.status == auth.role"`:                                                         "",
	} {
		_, err := compileRules(t, strings.Replace(base, "RULE", rule, 1))
		if want == "" {
			require.NoError(t, err, rule)
		} else {
			require.ErrorContains(t, err, want, rule)
		}
	}
}
