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
