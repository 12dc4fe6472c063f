package migrate_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// writeAndUp plans src as the next file named name and applies it.
func (b *testBundle) writeAndUp(t *testing.T, src, name string) {
	st, m, desired := b.open(t, src)
	plan, err := m.Plan(desired)
	require.NoError(t, err)
	_, err = m.Write(plan, name, true)
	require.NoError(t, err)
	_, err = m.Up(context.Background(), nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
}

func statesOf(es []migrate.Entry) map[string]migrate.State {
	out := map[string]migrate.State{}
	for _, e := range es {
		out[e.Label()] = e.State
	}
	return out
}

// A database a newer deployment migrated (here: 0002's files are gone, as after rolling the
// app back) is refused by every step, named with its migrations, not planned over as behind.
func TestAppliedMigrationsWithoutAFileAreRefused(t *testing.T) {
	t.Parallel()
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, dialect)
			b.writeAndUp(t, specV2, "init")
			b.writeAndUp(t, specV1, "drop sku")
			dir := filepath.Join(b.dir, "migrations", dialect)
			moved := t.TempDir()
			for _, ext := range []string{".up.sql", ".down.sql"} {
				require.NoError(t, os.Rename(filepath.Join(dir, "0002_drop_sku"+ext), filepath.Join(moved, "0002"+ext)))
			}

			_, m, v2 := b.open(t, specV2)
			_, err := m.Check(ctx, v2)
			require.ErrorIs(t, err, migrate.ErrUnknownApplied)
			require.ErrorContains(t, err, "0002_drop_sku (applied ")
			_, _, v1 := b.open(t, specV1)
			current, err := m.Check(ctx, v1)
			require.NoError(t, err, "a database that is the spec's serves, whatever files the deployment ships")
			require.True(t, current.Empty())
			require.ErrorIs(t, m.Dev(ctx, v2, false, nil), migrate.ErrUnknownApplied)
			_, err = m.Up(ctx, nil)
			require.ErrorIs(t, err, migrate.ErrUnknownApplied)
			es, err := m.Status(ctx)
			require.NoError(t, err)
			require.Equal(t, map[string]migrate.State{"0001_init": migrate.StateApplied, "0002_drop_sku": migrate.StateNoFile}, statesOf(es))
			require.ErrorIs(t, migrate.Problems(es, m.Dir()), migrate.ErrUnknownApplied)
			_, err = m.Down(ctx)
			require.ErrorIs(t, err, migrate.ErrUnknownApplied)
			require.ErrorContains(t, err, "applied migration 0002_drop_sku has no file")

			for _, ext := range []string{".up.sql", ".down.sql"} { // deploy the files back: down reverts it
				require.NoError(t, os.Rename(filepath.Join(moved, "0002"+ext), filepath.Join(dir, "0002_drop_sku"+ext)))
			}
			f, err := m.Down(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, f.Version)
			check, err := m.Check(ctx, v2)
			require.NoError(t, err)
			require.True(t, check.Empty(), "%v", check.Changes)
		})
	}
}

// An applied file edited since is flagged by status and stops up; down still reverts the
// newest one when it is the edited one (its down file is what runs), not on top of an older one.
func TestEditedAppliedMigrationsAreFlagged(t *testing.T) {
	t.Parallel()
	for _, dialect := range testdb.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, dialect)
			b.writeAndUp(t, specV1, "init")
			b.writeAndUp(t, specV2, "add sku")
			dir := filepath.Join(b.dir, "migrations", dialect)
			edit := func(name string) {
				f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.WriteString("\n-- edited\n")
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			edit("0001_init.up.sql")

			_, m, v2 := b.open(t, specV2)
			es, err := m.Status(ctx)
			require.NoError(t, err)
			require.Equal(t, map[string]migrate.State{"0001_init": migrate.StateEdited, "0002_add_sku": migrate.StateApplied}, statesOf(es))
			require.ErrorIs(t, migrate.Problems(es, m.Dir()), migrate.ErrEdited)
			require.ErrorIs(t, m.Dev(ctx, v2, false, nil), migrate.ErrEdited)
			_, err = m.Down(ctx)
			require.ErrorIs(t, err, migrate.ErrEdited)
			require.ErrorContains(t, err, "0001_init.up.sql")
			es, err = m.Status(ctx)
			require.NoError(t, err)
			require.Equal(t, migrate.StateApplied, statesOf(es)["0002_add_sku"], "down refused: 0002 stays applied")

			b2 := setup(t, dialect)
			b2.writeAndUp(t, specV1, "init")
			b2.writeAndUp(t, specV2, "add sku")
			dir = filepath.Join(b2.dir, "migrations", dialect)
			edit("0002_add_sku.up.sql")
			_, m, _ = b2.open(t, specV2)
			f, err := m.Down(ctx)
			require.NoError(t, err, "the newest one, edited, is reverted by its down file")
			require.Equal(t, 2, f.Version)
			pending, err := m.Pending(ctx)
			require.NoError(t, err)
			require.Len(t, pending, 1, "the edited file is pending again")
		})
	}
}

// An edited or renumbered applied file is named with what to do: files swapped after they ran
// are called renamed or renumbered, not edited; the newest applied one alone edited points at
// down then up.
func TestEditedAndRenumberedFilesSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	b := setup(t, "sqlite")
	b.writeAndUp(t, specV1, "init")
	b.writeAndUp(t, specV2, "add sku")
	dir := filepath.Join(b.dir, "migrations", "sqlite")
	up := filepath.Join(dir, "0002_add_sku.up.sql")
	src, err := os.ReadFile(up)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(up, append(src, "\n-- edited\n"...), 0o644))
	_, m, _ := b.open(t, specV2)
	_, err = m.Pending(ctx)
	require.ErrorIs(t, err, migrate.ErrEdited)
	require.ErrorContains(t, err, "0002_add_sku.up.sql (its checksum differs from the one recorded): restore the file as it was applied; "+
		"or, since it is the newest, apply the edit the documented way: `kiln migrate down` (its down file runs), then `kiln migrate up`")
	require.NoError(t, os.WriteFile(up, src, 0o644))

	for _, ext := range []string{".up.sql", ".down.sql"} { // swap the numbers of the two files
		require.NoError(t, os.Rename(filepath.Join(dir, "0001_init"+ext), filepath.Join(dir, "tmp"+ext)))
		require.NoError(t, os.Rename(filepath.Join(dir, "0002_add_sku"+ext), filepath.Join(dir, "0001_add_sku"+ext)))
		require.NoError(t, os.Rename(filepath.Join(dir, "tmp"+ext), filepath.Join(dir, "0002_init"+ext)))
	}
	_, err = m.Pending(ctx)
	require.ErrorIs(t, err, migrate.ErrEdited)
	require.ErrorContains(t, err, "0001_add_sku.up.sql (applied as 0001_init), 0002_init.up.sql (applied as 0002_add_sku) "+
		"(their checksums differ from the ones recorded): files were renamed or renumbered after they were applied")
}
