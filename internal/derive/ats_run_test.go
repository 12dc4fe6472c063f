package derive_test

import "testing"

// A new user's applicant-tracking spec (testdata/ats.yaml): its applications' unique index on
// job and candidate, with a rule keeping job on update. The update file's taken-index case
// changed job to the second record's and was refused by the rule (400 job_fixed, not the 409
// it expected): now it is left out (TestTakenIndexCaseLeftOutWhereARuleKeepsItsField). The rest
// passes on both dialects.
func TestDerivedSuiteOfApplicantTrackingPasses(t *testing.T) {
	runWithGaps(t, "testdata/ats.yaml", nil)
}

// A field whose default_expr reads the creating account (a note's org, from its author's): a
// PUT that leaves it out has it computed again — for the suite's accounts, which belong to no
// org, a 400 — so the PUT of required fields keeps it, as it keeps a field a rule reads. Before,
// put_resets_absent_fields expected null and got the 400.
func TestDerivedSuiteOfADefaultReadingTheCreatorsAccountPasses(t *testing.T) {
	runWithGaps(t, writeKiln(t, `name: orgdefault
database:
  url: ${KILN_DATABASE_URL:-}
roles: [admin, member]
auth: {account: users, signup: open, default_role: member}
resources:
  orgs:
    fields:
      name: {type: string, required: true}
    access: {list: [admin, member], view: [admin, member], create: [admin], update: [admin], delete: [admin]}
  users:
    fields:
      org: {type: relation, to: orgs, write: [admin]}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  notes:
    fields:
      org: {type: relation, to: orgs, default_expr: "get('users', auth.id).org"}
      text: {type: string, required: true}
    access: {list: [admin, member], view: [admin, member], create: [admin, member], update: [admin, member], delete: [admin]}
`), nil)
}
