package derive_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// The files derived with optional links to an underivable resource left out pass against the
// server, on both dialects: nothing in them waits for a record that cannot be made.
func TestDerivedSuiteWithLinksLeftOutPasses(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		b := kilntest.New(t, "testdata/links.yaml")
		suite, err := derive.Generate(b.App.Spec)
		require.NoError(t, err)
		var names []string
		for _, f := range suite.Files {
			names = append(names, f.Name)
		}
		require.Len(t, names, 25, "users, notes, shelves, projects and tasks: five files each")
		results := runDerived(t, b.App, b.App.Handler(), suite, names)
		require.NotEmpty(t, results)
		for key, res := range results {
			require.True(t, res.Passed, "%s: %v", key, res.Failures)
		}
	})
}
