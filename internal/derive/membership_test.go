package derive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A create rule that admits a role only through other records (exists() on memberships) lets
// it make no record: the suite makes no membership for its test accounts, so with no role
// that may create any record the resource's files are not derived (they expected 201 and got
// the correct server's 403 on every case: a new user's trial, 84 of 115 failed).
func TestExistsOnlyCreateRuleHasNoMaker(t *testing.T) {
	t.Parallel()
	suite, files := deriveSpec(t, `name: mini
roles: [admin, member]
auth: {account: users, signup: open}
resources:
  users:
    fields: {email: {type: email}}
    access: {view: "record.id == auth.id"}
  orgs:
    fields: {name: {type: string, required: true}}
    access: {create: [member, admin], list: public, view: public}
  memberships:
    fields:
      org: {type: relation, to: orgs, required: true}
      user: {type: relation, to: users, required: true, allow_hidden: true}
    access: {create: [admin], list: [admin], view: [admin]}
  projects:
    fields:
      org: {type: relation, to: orgs, required: true}
      name: {type: string, required: true}
    access:
      list: "exists('memberships', 'org == record.org && user == auth.id')"
      create: "exists('memberships', 'org == record.org && user == auth.id')"
`)
	require.Contains(t, suite.Gaps, "projects create: no role may create projects: its create rule requires a memberships record to exist (exists()), which the suite does not make")
	for name := range files {
		require.NotContains(t, name, "projects.", "no file works on a project")
	}
}
