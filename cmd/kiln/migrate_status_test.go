package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
)

const statusSpecV1 = `resources:
  notes:
    fields:
      title: string
  old:
    fields:
      x: string
`

// migrateTwice applies 0001_init (statusSpecV1) then 0002_drop_old, and returns the spec path,
// the data dir and the migrations dir.
func migrateTwice(t *testing.T) (specPath, data, dir string) {
	t.Helper()
	t.Setenv("KILN_DATABASE_URL", "")
	root := t.TempDir()
	specPath, data = filepath.Join(root, "kiln.yaml"), filepath.Join(root, "data")
	flags := []string{"--spec", specPath, "--data-dir", data}
	v2 := strings.Split(statusSpecV1, "  old:\n")[0]
	for _, step := range []struct{ src, name string }{{statusSpecV1, "init"}, {v2, "drop_old"}} {
		require.NoError(t, os.WriteFile(specPath, []byte(step.src), 0o644))
		out, err := run(t, append([]string{"migrate", "plan", "--allow-destructive", "--name", step.name}, flags...)...)
		require.NoError(t, err, out)
		out, err = run(t, append([]string{"migrate", "up"}, flags...)...)
		require.NoError(t, err, out)
	}
	return specPath, data, filepath.Join(root, "migrations", "sqlite")
}

// Rolling the app back (the spec and files of 0001 only, on a database 0002 migrated) is
// refused by serve, with or without --dev, and status lists 0002 and fails.
func TestServeAndStatusRefuseMigrationsThisDeploymentDoesNotHave(t *testing.T) {
	specPath, data, dir := migrateTwice(t)
	require.NoError(t, os.Remove(filepath.Join(dir, "0002_drop_old.up.sql")))
	require.NoError(t, os.Remove(filepath.Join(dir, "0002_drop_old.down.sql")))
	require.NoError(t, os.WriteFile(specPath, []byte(statusSpecV1), 0o644))

	out, err := run(t, "migrate", "status", "--spec", specPath, "--data-dir", data)
	require.ErrorIs(t, err, migrate.ErrUnknownApplied, out)
	require.Regexp(t, `0002_drop_old\s+applied \S+, no file`, out)
	for _, dev := range []string{"--dev=false", "--dev"} {
		out, err = run(t, "serve", dev, "--spec", specPath, "--data-dir", data, "--addr", "127.0.0.1:0")
		require.ErrorIs(t, err, migrate.ErrUnknownApplied, out)
		require.ErrorContains(t, err, "does not have: 0002_drop_old (applied ")
		require.NotContains(t, err.Error(), "behind")
	}
}

// An applied file edited since is flagged by status, which fails.
func TestStatusFlagsAnEditedAppliedMigration(t *testing.T) {
	specPath, data, dir := migrateTwice(t)
	path := filepath.Join(dir, "0001_init.up.sql")
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(src, "\n-- edited\n"...), 0o644))

	out, err := run(t, "migrate", "status", "--spec", specPath, "--data-dir", data)
	require.ErrorIs(t, err, migrate.ErrEdited, out)
	require.Regexp(t, `0001_init\s+applied \S+, file edited since \(checksum mismatch\)`, out)
	require.Regexp(t, `0002_drop_old\s+applied \S+\n`, out)
	require.NoError(t, os.WriteFile(path, src, 0o644))

	// the two files swapped: each line says which migration its number was applied as
	for _, ext := range []string{".up.sql", ".down.sql"} {
		require.NoError(t, os.Rename(filepath.Join(dir, "0001_init"+ext), filepath.Join(dir, "tmp"+ext)))
		require.NoError(t, os.Rename(filepath.Join(dir, "0002_drop_old"+ext), filepath.Join(dir, "0001_drop_old"+ext)))
		require.NoError(t, os.Rename(filepath.Join(dir, "tmp"+ext), filepath.Join(dir, "0002_init"+ext)))
	}
	out, err = run(t, "migrate", "status", "--spec", specPath, "--data-dir", data)
	require.ErrorIs(t, err, migrate.ErrEdited, out)
	require.Regexp(t, `0001_drop_old\s+applied \S+ as 0001_init, file renamed or renumbered since`, out)
	require.Regexp(t, `0002_init\s+applied \S+ as 0002_drop_old, file renamed or renumbered since`, out)
}

// serve --dev refuses a destructive change with advice it can follow (serve has no
// --allow-destructive); plan's refusal names its own flag.
func TestDestructiveAdviceNamesTheRightCommand(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	root := t.TempDir()
	specPath, data := filepath.Join(root, "kiln.yaml"), filepath.Join(root, "data")
	require.NoError(t, os.WriteFile(specPath, []byte(statusSpecV1), 0o644))
	flags := []string{"--spec", specPath, "--data-dir", data}
	for _, args := range [][]string{{"migrate", "plan", "--name", "init"}, {"migrate", "up"}} {
		out, err := run(t, append(args, flags...)...)
		require.NoError(t, err, out)
	}
	require.NoError(t, os.WriteFile(specPath, []byte(strings.Split(statusSpecV1, "  old:\n")[0]), 0o644))

	out, err := run(t, append([]string{"serve", "--dev", "--addr", "127.0.0.1:0"}, flags...)...)
	require.ErrorIs(t, err, migrate.ErrDestructive, out)
	require.ErrorContains(t, err, "`kiln migrate plan --allow-destructive`")
	require.NotContains(t, err.Error(), "rerun with")
	out, err = run(t, append([]string{"migrate", "plan"}, flags...)...)
	require.ErrorIs(t, err, migrate.ErrDestructive, out)
	require.ErrorContains(t, err, "(rerun with --allow-destructive)")
}

// After down, status says the pending files bring the database to the spec (run up), and,
// when the spec is the one of before them, that planning would undo them.
func TestStatusAfterDownPointsAtThePendingFiles(t *testing.T) {
	specPath, data, _ := migrateTwice(t)
	flags := []string{"--spec", specPath, "--data-dir", data}
	out, err := run(t, append([]string{"migrate", "down"}, flags...)...)
	require.NoError(t, err, out)

	out, err = run(t, append([]string{"migrate", "status"}, flags...)...)
	require.NoError(t, err, out)
	require.Contains(t, out, "1 migration(s) pending (0002_drop_old); they bring the database to the spec: run kiln migrate up; "+
		"if it fails on existing rows, fix the rows (the API is not served while a migration is pending: use the database's own client) or change the spec and re-plan")
	require.NotContains(t, out, "no migration covers yet")
	out, err = run(t, append([]string{"serve", "--dev=false", "--addr", "127.0.0.1:0"}, flags...)...)
	require.ErrorContains(t, err, "1 migration file(s) in ", out)
	require.ErrorContains(t, err, " are not applied yet (0002_drop_old): run `kiln migrate up`")

	require.NoError(t, os.WriteFile(specPath, []byte(statusSpecV1), 0o644))
	out, err = run(t, append([]string{"migrate", "status"}, flags...)...)
	require.NoError(t, err, out)
	require.Contains(t, out, "the spec matches the database, not the pending migration(s) 0002_drop_old")
	require.NotContains(t, out, "no migration covers yet")
}

// Two files numbered alike (a merge of two branches) are named, with what to do, by status,
// up, plan and serve with or without --dev — serve does not call the database behind.
func TestDuplicateVersionsAreNamed(t *testing.T) {
	specPath, data, dir := migrateTwice(t)
	for _, ext := range []string{".up.sql", ".down.sql"} {
		src, err := os.ReadFile(filepath.Join(dir, "0002_drop_old"+ext))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "0002_linkedin"+ext), src, 0o644))
	}
	require.NoError(t, os.WriteFile(specPath, []byte("resources:\n  notes:\n    fields:\n      title: string\n      body: string\n"), 0o644))
	flags := []string{"--spec", specPath, "--data-dir", data}
	for _, args := range [][]string{{"migrate", "status"}, {"migrate", "up"}, {"migrate", "plan"},
		{"serve", "--dev=false", "--addr", "127.0.0.1:0"}, {"serve", "--dev", "--addr", "127.0.0.1:0"}} {
		out, err := run(t, append(args, flags...)...)
		require.ErrorIs(t, err, migrate.ErrDuplicateVersion, "%v: %s", args, out)
		require.ErrorContains(t, err, "0002_drop_old.up.sql and 0002_linkedin.up.sql", args)
		require.ErrorContains(t, err, "renumber the one not applied to any database yet to follow the newest (e.g. 0003_linkedin.up.sql", args)
		require.ErrorContains(t, err, "run `kiln migrate plan` again", args)
		require.NotContains(t, err.Error(), "behind", args)
	}
}
