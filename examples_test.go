package kiln_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// The shop's committed migrations must cover its spec, or `kiln serve` would refuse it and
// --dev would write a new file into the repository.
func TestShopMigrationsMatchTheSpec(t *testing.T) {
	t.Parallel()
	s, err := kiln.LoadSpec("examples/shop/kiln.yaml", noEnv)
	require.NoError(t, err)
	for _, dialect := range testdb.Dialects {
		files, err := filepath.Glob(filepath.Join("examples/shop/migrations", dialect, "*.up.sql"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		plan, err := migrate.PlanFromDir(filepath.Join("examples/shop/migrations", dialect), dialect, migrate.FromSpec(s))
		require.NoError(t, err)
		require.True(t, plan.Empty(), "%s migrations miss: %v (run kiln migrate plan)", dialect, plan.Changes)
	}
}
