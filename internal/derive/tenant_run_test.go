package derive_test

import "testing"

// A tenant spec (a new user's trial): accounts belong to an organization, and every rule,
// the accounts' own included, reaches records through exists() on the caller's account. The
// suite makes no organization for its test accounts, so it derives no case on an account's
// own record — the view rule reaches it only through exists(), and a write's reach joins the
// view rule (it derived them before, and a correct server answered them 404) — and says of
// each tenant resource that its rule requires a record the suite does not make (it said "no
// role may create projects"). What it derives passes on both dialects.
func TestDerivedSuiteOfATenantSpecPasses(t *testing.T) {
	runWithGaps(t, writeKiln(t, `name: tracker
database:
  url: ${KILN_DATABASE_URL:-}
roles: [superadmin, member]
auth: {account: users, signup: open, default_role: member, admin_roles: [superadmin]}
resources:
  orgs:
    fields:
      name: {type: string, required: true}
    access:
      list: "auth.role == 'superadmin' || exists('users', 'id == auth.id && org == record.id')"
      view: "auth.role == 'superadmin' || exists('users', 'id == auth.id && org == record.id')"
      create: [superadmin]
      update: [superadmin]
      delete: [superadmin]
  users:
    fields:
      name: {type: string, max_length: 100}
      org: {type: relation, to: orgs, write: [superadmin]}
    access:
      list: "auth.role == 'superadmin' || exists('users', 'id == auth.id && org == record.org')"
      view: "auth.role == 'superadmin' || exists('users', 'id == auth.id && org == record.org')"
      create: [superadmin]
      update: "auth.role == 'superadmin' || record.id == auth.id"
      delete: [superadmin]
  projects:
    fields:
      org: {type: relation, to: orgs, required: true}
      name: {type: string, required: true}
    access:
      list: "exists('users', 'id == auth.id && org == record.org')"
      view: "exists('users', 'id == auth.id && org == record.org')"
      create: "auth.role == 'member' && exists('users', 'id == auth.id && org == record.org')"
      update: "auth.role == 'member' && exists('users', 'id == auth.id && org == record.org')"
      delete: "auth.role == 'member' && exists('users', 'id == auth.id && org == record.org')"
`), []string{
		"users view: no case on member's own record: the rule reaches it only through other records (exists()), which the suite does not make",
		"users update: no case on member's own record: the view rule, which a write's reach joins, reaches it only through other records (exists()), which the suite does not make",
		"projects list: no role may list every projects record: its list rule requires a users record to exist (exists()), which the suite does not make",
		"projects view: no role may view every projects record: its view rule requires a users record to exist (exists()), which the suite does not make",
		"projects create: no role may create projects: its create rule requires a users record to exist (exists()), which the suite does not make",
		"projects update: no role may update every projects record: its update rule requires a users record to exist (exists()), which the suite does not make",
		"projects delete: no role may delete every projects record: its delete rule requires a users record to exist (exists()), which the suite does not make",
	})
}
