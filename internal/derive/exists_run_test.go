package derive_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// A new user's minimal spec (trial 1, min1; internal/derive/exists_test.go has it with its
// story), owner left optional: the derived suite passes on both dialects, and the member's
// own-record update, which only a membership would admit, is a printed gap.
func TestDerivedSuiteOfExistsOnlyUpdateRulePasses(t *testing.T) {
	path := writeKiln(t, strings.Replace(derive.MemberNotesSpec, "required: true, default: auth.id", "default: auth.id", 1))
	runWithGaps(t, path, []string{"notes update: no case on member's own record: the rule reaches it only through other records (exists()), which the suite does not make"})
}

// runWithGaps runs the suite derived from the spec at path on both dialects: it has exactly
// gaps, and every case passes.
func runWithGaps(t *testing.T, path string, gaps []string) {
	t.Helper()
	testdb.EachDialectEnv(t, func(t *testing.T) {
		b := kilntest.New(t, path)
		suite, err := derive.Generate(b.App.Spec)
		require.NoError(t, err)
		for _, f := range suite.Files {
			b.RunYAML(t, f.Name, string(f.Data))
		}
		require.Equal(t, gaps, suite.Gaps)
	})
}

// writeKiln writes text as a kiln.yaml of its own and returns its path.
func writeKiln(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// The trial's minimal spec as it was (owner required): its API-key create is the 400 naming
// owner, and passes the runner's implied-field check.
func TestDerivedSuiteOfTrialNotesSpecPasses(t *testing.T) {
	runWithGaps(t, writeKiln(t, derive.MemberNotesSpec), []string{"notes update: no case on member's own record: the rule reaches it only through other records (exists()), which the suite does not make"})
}

// The suite derived from a create rule `record.pet.owner == auth.id || exists(...)` makes
// visits by a member for its own pet, and passes on both dialects.
func TestDerivedSuiteOfOwnRecordOrExistsCreateRulePasses(t *testing.T) {
	runWithGaps(t, writeKiln(t, derive.PetVisitsSpec), nil)
}

// The same with the create rule's own-record part alone (trial 1, vet4): the record an item
// file works on is made by the maker's own account, and so is the pet it refers to.
func TestDerivedSuiteOfOwnRecordCreateRuleMadeByTheFilesRolePasses(t *testing.T) {
	runWithGaps(t, writeKiln(t, strings.Replace(derive.PetVisitsSpec, ` || exists('memberships', 'org == record.org && user == auth.id')"`, `"`, 1)), nil)
}

// A create rule that requires a record the suite does not make: the resource is not derived,
// naming the rule, and the rest of the suite passes on both dialects.
func TestDerivedSuiteWithoutRecordsACreateRuleRefusesPasses(t *testing.T) {
	why := "its rule org_has_members requires a memberships record to exist (exists()), which the suite does not make"
	var gaps []string
	for _, action := range []string{"list", "view", "create", "update", "delete"} {
		gaps = append(gaps, "visits "+action+": "+why)
	}
	runWithGaps(t, writeKiln(t, derive.VisitsNeedAMember(t)), gaps)
}
