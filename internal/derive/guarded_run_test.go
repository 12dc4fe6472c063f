package derive_test

import (
	"testing"

	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// The derived suite of a spec whose required fields only admins write passes on both dialects
// (see TestRequiredFieldsGuardedByWriteRolesAreSent).
func TestDerivedSuiteSendsRequiredGuardedFields(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		kilntest.New(t, "testdata/guarded.yaml").RunDerived(t)
	})
}
