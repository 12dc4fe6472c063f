package kilntest_test

import (
	"testing"

	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// The shop's YAML tests and its derived suite, run from Go through the same harness as `kiln test`.
func TestShopThroughTheGoHarness(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		b := kilntest.New(t, "../examples/shop/kiln.yaml")
		b.Run(t, "../examples/shop/tests")
		b.RunDerived(t)
	})
}

// The derived suites of the test specs pass on both dialects. Each is of another shape:
//   - everything: every field type, row rules on a self-referencing resource and a unique field
//     whose pattern leaves no room for {unique};
//   - open: no auth, a relation cycle through an inverse, a self-relation, a short unique field;
//   - clinic: fields whose examples matter (two date-times a rule compares, a date, an enum and
//     a boolean whose examples are not their first values) and a unique to-one relation;
//   - tracker: a multi-tenant issue tracker (chains of to-one relations in row rules, a guard on
//     the old N:M assignees, an action that creates a record, composite unique indexes, rollups);
//   - cycle: two resources that point at each other, owned by their makers;
//   - bookings: unique indexes over several fields (a relation and a date, a date and an enum,
//     the creator's account and a date, a relation, a boolean and an integer);
//   - cowork: records only their creators may make, a 1:1 relation to the creator's account,
//     an optional relation to records the creating role cannot view, API keys that own nothing;
//   - oneprofile: one record per account, the relation to it set by no creating role;
//   - hiddenrows: required relations to records the viewing or updating role cannot link (seen
//     by a row rule that selects another account's, or listed but not viewed);
//   - school: a capacity rule counting other records, an N:M with fields of its own (unique
//     per pair), actions with asserts and input, a row rule through a relation another role
//     makes (a teacher's sections), a value computed through two hops, an admin-only target.
func TestDerivedSuitesOfTheTestSpecs(t *testing.T) {
	for _, name := range []string{"everything", "open", "clinic", "tracker", "cycle", "bookings", "cowork", "oneprofile", "hiddenrows", "school"} {
		t.Run(name, func(t *testing.T) {
			testdb.EachDialectEnv(t, func(t *testing.T) {
				kilntest.New(t, "../internal/derive/testdata/"+name+".yaml").RunDerived(t)
			})
		})
	}
}

func TestRunYAML(t *testing.T) {
	b := kilntest.New(t, "../examples/shop/kiln.yaml")
	b.RunYAML(t, "tags.yaml", `
endpoint: POST /api/tags
as: staff
test_cases:
  create:
    request:
      headers: {Authorization: "Bearer {valid_token}", Content-Type: application/json}
      body: {name: "go-{unique}"}
    expected:
      status: 201
      database_check:
        - Tag with name "go-{unique}" exists
`)
}

// The second example, a lending library of another shape (N:M authors, a limit per member, a
// copy lent once, a state machine, a return action): its derived suite passes too.
func TestLibraryDerivedSuite(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		kilntest.New(t, "../examples/library/kiln.yaml").RunDerived(t)
	})
}
