package migrate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// Two branches plan a migration each from the same base; merged, the second is renumbered to
// follow the first. It was planned on a schema without the first one's column: applied, it
// would undo it — on SQLite by rebuilding the table without the column and its data (a new
// user's trial lost 100 values). It is refused by up, status and plan, naming the file and
// what it would undo, and nothing is applied; planned again after the first, it applies and
// keeps the data.
func TestAMigrationPlannedOnAnotherBranchIsRefused(t *testing.T) {
	t.Parallel()
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, dialect)
			b.writeAndUp(t, specV1, "init")
			_, m, _ := b.open(t, specV1)
			dir := m.Dir()
			alice := strings.Replace(specV1, "      price:", "      country: string\n      price:", 1)
			bob := strings.Replace(specV1, "      price:", "      size: integer\n      price:", 1)

			bobsDir := filepath.Join(t.TempDir(), dialect) // bob's branch: the files as they were
			require.NoError(t, os.CopyFS(bobsDir, os.DirFS(dir)))
			_, _, vBob := b.open(t, bob)
			p, err := migrate.PlanFromDir(bobsDir, dialect, vBob)
			require.NoError(t, err)
			bobsPlan := p

			b.writeAndUp(t, alice, "country")
			st, m, vAlice := b.open(t, alice)
			require.NoError(t, st.InTx(ctx, func(tx *store.Exec) error {
				return tx.ExecRaw(ctx, "INSERT INTO products (id, created_at, updated_at, kiln_version, name, country) VALUES ('0192f0a0-0000-7000-8000-000000000002', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 1, 'p', 'DE')")
			}))
			stale, err := m.Write(bobsPlan, "size", false) // bob's file, renumbered after alice's
			require.NoError(t, err)
			require.Equal(t, 3, stale.Version)

			for name, call := range map[string]func() error{
				"up": func() error { _, err := m.Up(ctx, nil); return err },
				"status": func() error { // as kiln migrate status judges the entries
					es, err := m.Status(ctx)
					if err != nil {
						return err
					}
					return migrate.Bases(es, dialect)
				},
				"plan": func() error { _, err := m.Plan(vAlice); return err },
			} {
				err := call()
				require.ErrorIs(t, err, migrate.ErrStaleBase, name)
				require.ErrorContains(t, err, "0003_size.up.sql was planned before 0002_country", name)
				require.ErrorContains(t, err, "it would also undo: drop column products.country", name)
			}
			require.Equal(t, 1, count(t, st, "SELECT COUNT(*) FROM products WHERE country = 'DE'"), "nothing was applied")

			require.NoError(t, os.Remove(stale.UpPath))
			require.NoError(t, os.Remove(stale.DownPath))
			merged := strings.Replace(alice, "      price:", "      size: integer\n      price:", 1)
			b.writeAndUp(t, merged, "size")
			require.Equal(t, 1, count(t, st, "SELECT COUNT(*) FROM products WHERE country = 'DE'"), "planned again, it keeps the data")
		})
	}
}
