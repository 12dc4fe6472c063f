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
// (TestUniqueIndexesOfFewValuesAreGaps), hotdesk.yaml for a required relation to records no
// role allowed to create the record can view (TestRequiredLinksToRecordsTheCreatorCannotView):
// the other files pass as written, hotdesk's visits.create.test.yaml (the refusal) too.
func TestDerivedSuiteWithLinksLeftOutPasses(t *testing.T) {
	for spec, want := range map[string]struct{ files, cases int }{"links": {25, 477}, "flags": {5, 61}, "hotdesk": {26, 486}} {
		t.Run(spec, func(t *testing.T) {
			testdb.EachDialectEnv(t, func(t *testing.T) {
				b := kilntest.New(t, "testdata/"+spec+".yaml")
				suite, err := derive.Generate(b.App.Spec)
				require.NoError(t, err)
				var names []string
				for _, f := range suite.Files {
					names = append(names, f.Name)
				}
				require.Len(t, names, want.files, "five files for each resource derived")
				results := runDerived(t, b.App, b.App.Handler(), suite, names)
				require.Len(t, results, want.cases)
				for key, res := range results {
					require.True(t, res.Passed, "%s: %v", key, res.Failures)
				}
			})
		})
	}
}
