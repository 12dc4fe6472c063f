package derive_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// The files derived with optional links to an underivable resource left out pass against the
// server, on both dialects: nothing in them waits for a record that cannot be made. links.yaml
// leaves resources out for a relation chain, flags.yaml for a unique index of too few values
// (TestUniqueIndexesOfFewValuesAreGaps): the other files pass as written.
func TestDerivedSuiteWithLinksLeftOutPasses(t *testing.T) {
	for spec, files := range map[string]int{"links": 25, "flags": 5} {
		t.Run(spec, func(t *testing.T) {
			testdb.EachDialectEnv(t, func(t *testing.T) {
				b := kilntest.New(t, "testdata/"+spec+".yaml")
				suite, err := derive.Generate(b.App.Spec)
				require.NoError(t, err)
				var names []string
				for _, f := range suite.Files {
					names = append(names, f.Name)
				}
				require.Len(t, names, files, "five files for each resource derived")
				results := runDerived(t, b.App, b.App.Handler(), suite, names)
				require.NotEmpty(t, results)
				for key, res := range results {
					require.True(t, res.Passed, "%s: %v", key, res.Failures)
				}
			})
		})
	}
}
