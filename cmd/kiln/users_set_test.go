package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// librarySpec has an account resource with required fields besides email and role.
const librarySpec = `name: library
roles: [librarian, member]
auth:
  account: members
  default_role: member
resources:
  members:
    fields:
      name: {type: string, required: true, min_length: 1}
      card_number: {type: integer, required: true, min: 1}
      fine_limit: {type: decimal, precision: 8, scale: 2, min: 0}
      student: {type: boolean, default: false}
`

// migratedLibrary writes librarySpec and applies its migrations on SQLite.
func migratedLibrary(t *testing.T) (specPath, data string) {
	t.Helper()
	t.Setenv("KILN_DATABASE_URL", "")
	dir := t.TempDir()
	specPath = filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(librarySpec), 0o644))
	data = filepath.Join(dir, "data")
	for _, args := range [][]string{{"migrate", "plan", "--name", "init"}, {"migrate", "up"}} {
		out, err := run(t, append(args, "--spec", specPath, "--data-dir", data)...)
		require.NoError(t, err, out)
	}
	return specPath, data
}

// createMember runs `kiln users create` with a password on stdin.
func createMember(t *testing.T, specPath, data string, extra ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(&output{out: &out, err: &out})
	args := []string{"users", "create", "--spec", specPath, "--data-dir", data, "--role", "member", "--password-stdin"}
	root.SetArgs(append(args, extra...))
	root.SetIn(strings.NewReader("a strong password\n"))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestUsersCreateNamesTheFlagOfAMissingField(t *testing.T) {
	specPath, data := migratedLibrary(t)
	_, err := createMember(t, specPath, data, "--email", "a@example.com")
	require.ErrorContains(t, err, "name is required (give it with --name)")
	require.ErrorContains(t, err, "card_number is required (give it with --set card_number=…)")
}

func TestUsersCreateSetsOtherFieldsByTheirType(t *testing.T) {
	specPath, data := migratedLibrary(t)
	out, err := createMember(t, specPath, data, "--email", "b@example.com", "--name", "Bea",
		"--set", "card_number=42", "--set", "fine_limit=12.50", "--set", "student=true")
	require.NoError(t, err, out)
	app := openApp(t, specPath, data)
	rows, err := app.Store.Reader().QueryRaw(context.Background(),
		`SELECT "card_number", "fine_limit", "student" FROM "members" WHERE "email" = ?`, "b@example.com")
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var card, fine int64
	var student bool
	require.NoError(t, rows.Scan(&card, &fine, &student))
	require.Equal(t, []any{int64(42), int64(1250), true}, []any{card, fine, student}, "typed by the spec: decimal in minor units")
}

// The name may come from --set like the account's other fields (a new user tried it): the
// README says --set fills them.
func TestUsersCreateTakesTheNameFromSetToo(t *testing.T) {
	specPath, data := migratedLibrary(t)
	out, err := createMember(t, specPath, data, "--email", "d@example.com", "--set", "name=Dee", "--set", "card_number=7")
	require.NoError(t, err, out)
	app := openApp(t, specPath, data)
	rows, err := app.Store.Reader().QueryRaw(context.Background(), `SELECT "name" FROM "members" WHERE "email" = ?`, "d@example.com")
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var name string
	require.NoError(t, rows.Scan(&name))
	require.Equal(t, "Dee", name)
}

func TestUsersCreateValidatesSetLikeTheAPI(t *testing.T) {
	specPath, data := migratedLibrary(t)
	for _, tc := range []struct {
		set, want string
	}{
		{set: "card_number=0", want: "card_number must be >= 1"},
		{set: "card_number=abc", want: "card_number must be a whole number"},
		{set: "nickname=x", want: "--set nickname: members has no field nickname"},
		{set: "email=x@example.com", want: "--set email: give email with --email"},
		{set: "name=Cee", want: "--set name and --name: give the name once"},
		{set: "card_number", want: `--set "card_number": write it as field=value`},
	} {
		t.Run(tc.set, func(t *testing.T) {
			_, err := createMember(t, specPath, data, "--email", "c@example.com", "--name", "C", "--set", tc.set)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
