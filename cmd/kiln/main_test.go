package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// copyShopMails puts the shop's mail templates beside a copy of its spec in dir.
func copyShopMails(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "mails"), os.DirFS("../../examples/shop/mails")))
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(&output{out: &out, err: &out})
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestInitThenMigrateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KILN_DATABASE_URL", "")
	out, err := run(t, "init", dir)
	require.NoError(t, err, out)
	require.FileExists(t, filepath.Join(dir, "kiln.yaml"))
	_, err = run(t, "init", dir)
	require.ErrorContains(t, err, "already exists")

	specPath := filepath.Join(dir, "kiln.yaml")
	data := filepath.Join(dir, "data")
	out, err = run(t, "spec", "validate", "--spec", specPath)
	require.NoError(t, err)
	require.Contains(t, out, "is valid: 1 resources")

	out, err = run(t, "migrate", "plan", "--spec", specPath, "--data-dir", data, "--name", "init")
	require.NoError(t, err, out)
	require.Contains(t, out, "create table notes")
	require.Contains(t, out, "CREATE TABLE \"notes\"")
	out, err = run(t, "migrate", "status", "--spec", specPath, "--data-dir", data)
	require.NoError(t, err)
	require.Contains(t, out, "0001_init")
	require.Contains(t, out, "pending")

	_, err = run(t, "serve", "--spec", specPath, "--data-dir", data, "--addr", "127.0.0.1:0")
	require.ErrorContains(t, err, "not applied yet")

	out, err = run(t, "migrate", "up", "--spec", specPath, "--data-dir", data)
	require.NoError(t, err)
	require.Contains(t, out, "applied 0001_init")

	// Add a field and an index: plan shows both.
	src, _ := os.ReadFile(specPath)
	changed := strings.Replace(string(src), "      done: {type: boolean, default: false}\n",
		"      done: {type: boolean, default: false}\n      priority: {type: integer, default: 0}\n", 1)
	changed = strings.Replace(changed, "      - fields: [done]\n", "      - fields: [done]\n      - fields: [priority]\n", 1)
	require.NoError(t, os.WriteFile(specPath, []byte(changed), 0o644))
	out, err = run(t, "migrate", "plan", "--spec", specPath, "--data-dir", data, "--name", "priority")
	require.NoError(t, err, out)
	require.Contains(t, out, "add column notes.priority integer")
	require.Contains(t, out, "create index notes_priority_idx on notes(priority)")
	for _, cmd := range []string{"up", "down", "up"} {
		out, err = run(t, "migrate", cmd, "--spec", specPath, "--data-dir", data)
		require.NoError(t, err, out)
	}
	out, err = run(t, "migrate", "plan", "--spec", specPath, "--data-dir", data)
	require.NoError(t, err)
	require.Contains(t, out, "already match")
}

func TestSpecValidateNamesThePosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte("resources:\n  notes:\n    fields:\n      title: {type: string, requird: true}\n"), 0o644))
	_, err := run(t, "spec", "validate", "--spec", path)
	require.ErrorContains(t, err, path+`:4:29: unknown key "requird" in field title (did you mean "required"?)`)
}

func TestSpecOpenAPIPrintsTheDocument(t *testing.T) {
	out, err := run(t, "spec", "openapi", "--spec", "../../examples/shop/kiln.yaml")
	require.NoError(t, err)
	require.Contains(t, out, `"openapi": "3.1.0"`)
}

func TestUsersCommands(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	t.Setenv("KILN_AUTH_SECRET", "")
	dir := t.TempDir()
	src, err := os.ReadFile("../../examples/shop/kiln.yaml")
	require.NoError(t, err)
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, src, 0o644))
	copyShopMails(t, filepath.Dir(specPath))
	data := filepath.Join(dir, "data")
	_, err = run(t, "migrate", "plan", "--spec", specPath, "--data-dir", data, "--name", "init")
	require.NoError(t, err)
	_, err = run(t, "migrate", "up", "--spec", specPath, "--data-dir", data)
	require.NoError(t, err)

	_, err = run(t, "users", "create", "--spec", specPath, "--data-dir", data, "--email", "boss@example.com", "--role", "admin")
	require.ErrorContains(t, err, "--password-stdin", "passwords never come from flags")

	var out bytes.Buffer
	root := newRoot(&output{out: &out, err: &out})
	root.SetArgs([]string{"users", "create", "--spec", specPath, "--data-dir", data, "--email", "Boss@Example.com", "--role", "admin", "--password-stdin"})
	root.SetIn(strings.NewReader("a strong password\n"))
	require.NoError(t, root.ExecuteContext(context.Background()), out.String())
	require.Contains(t, out.String(), "with role admin")

	require.Equal(t, "admin", storedRole(t, specPath, data, "boss@example.com"))
	out2, err := run(t, "users", "set-role", "--spec", specPath, "--data-dir", data, "--email", "boss@example.com", "--role", "staff")
	require.NoError(t, err, out2)
	require.Equal(t, "staff", storedRole(t, specPath, data, "boss@example.com"), "set-role changes the stored role")
	require.Equal(t, "staff", loginRole(t, specPath, data, "boss@example.com", "a strong password"), "and the role tokens carry")
	_, err = run(t, "users", "set-role", "--spec", specPath, "--data-dir", data, "--email", "boss@example.com", "--role", "king")
	require.ErrorContains(t, err, "role must be one of")
	require.Equal(t, "staff", storedRole(t, specPath, data, "boss@example.com"), "a refused role changes nothing")
	_, err = run(t, "users", "disable", "--spec", specPath, "--data-dir", data, "--email", "nobody@example.com")
	require.ErrorContains(t, err, "no account has that email")
	out2, err = run(t, "users", "disable", "--spec", specPath, "--data-dir", data, "--email", "boss@example.com")
	require.NoError(t, err, out2)
	require.Contains(t, out2, "is disabled")
	require.Equal(t, "", loginRole(t, specPath, data, "boss@example.com", "a strong password"), "a disabled account cannot sign in")

	_, err = run(t, "serve", "--spec", specPath, "--data-dir", data, "--addr", "127.0.0.1:0")
	require.ErrorContains(t, err, "KILN_AUTH_SECRET", "production refuses to start without a signing secret")
}

func TestKeysCommands(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	dir := t.TempDir()
	src, err := os.ReadFile("../../examples/shop/kiln.yaml")
	require.NoError(t, err)
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, src, 0o644))
	copyShopMails(t, filepath.Dir(specPath))
	data := filepath.Join(dir, "data")
	for _, args := range [][]string{{"migrate", "plan", "--name", "init"}, {"migrate", "up"}} {
		_, err := run(t, append(args, "--spec", specPath, "--data-dir", data)...)
		require.NoError(t, err)
	}
	out, err := run(t, "keys", "create", "--spec", specPath, "--data-dir", data, "--name", "ci", "--role", "staff", "--scope", "products:read")
	require.NoError(t, err, out)
	require.Contains(t, out, "kiln_")
	_, err = run(t, "keys", "create", "--spec", specPath, "--data-dir", data, "--name", "x", "--role", "root", "--scope", "nope:x")
	require.ErrorContains(t, err, "role must be one of")
	out, err = run(t, "keys", "list", "--spec", specPath, "--data-dir", data)
	require.NoError(t, err)
	require.Contains(t, out, "active")
	prefix := strings.Fields(out)[0]
	_, err = run(t, "keys", "revoke", prefix, "--spec", specPath, "--data-dir", data)
	require.NoError(t, err)
	out, _ = run(t, "keys", "list", "--spec", specPath, "--data-dir", data)
	require.Contains(t, out, "revoked")
	_, err = run(t, "keys", "revoke", prefix, "--spec", specPath, "--data-dir", data)
	require.ErrorContains(t, err, "no active API key")
}

// openApp opens the app of a CLI test's spec and data directory, able to sign tokens.
func openApp(t *testing.T, specPath, data string) *kiln.App {
	t.Helper()
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: data,
		AuthSecret: "cli-test-secret-0123456789abcdef0123", LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = app.Close() })
	return app
}

// storedRole reads an account's role column by SQL.
func storedRole(t *testing.T, specPath, data, email string) string {
	t.Helper()
	app := openApp(t, specPath, data)
	defer app.Close()
	rows, err := app.Store.Reader().QueryRaw(context.Background(), `SELECT "role" FROM "users" WHERE "email" = ?`, email)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "no account %s", email)
	var role string
	require.NoError(t, rows.Scan(&role))
	return role
}

// loginRole signs in and returns the role of the token's principal; "" when the login is refused.
func loginRole(t *testing.T, specPath, data, email, password string) string {
	t.Helper()
	app := openApp(t, specPath, data)
	defer app.Close()
	ctx := context.Background()
	pair, err := app.Accounts.Login(ctx, email, password, "127.0.0.1")
	if err != nil {
		require.ErrorContains(t, err, "email or password", "a refused login is the usual bad-login error")
		return ""
	}
	p, err := app.Accounts.Authenticate(ctx, pair.AccessToken)
	require.NoError(t, err)
	return p.Role
}

// Rules that name an unknown resource, field or function, or have the wrong type, fail
// validation at their file:line:col.
func TestSpecValidatePlacesBadRules(t *testing.T) {
	base := "resources:\n  items:\n    fields:\n      qty: integer\n      note: string\n    rules:\n"
	for _, c := range []struct{ rule, want string }{
		{`      - {name: a, check: "count('itemz', 'qty > 1') < 5"}`, `:7:26: rule a: count('itemz', …): "itemz" is not a resource`},
		{`      - {name: b, check: "record.qtty > 1"}`, `:7:26: rule b: at 1:7: undefined field 'qtty' (did you mean "qty"?)`},
		{`      - {name: c, check: "record.qty + 1"}`, `:7:26: rule c: must be of type bool, not int`},
		{`      - {name: d, check: "nosuch(record.qty)"}`, `:7:26: rule d: at 1:7: undeclared reference to 'nosuch'`},
		{`      - {name: e, check: "count('items', 'nope == 1') < 5"}`, `:7:26: rule e: count('items', …): filter "nope == 1": at 1:1: undeclared reference to 'nope' (did you mean 'note'?)`},
	} {
		path := filepath.Join(t.TempDir(), "kiln.yaml")
		require.NoError(t, os.WriteFile(path, []byte(base+c.rule+"\n"), 0o644))
		_, err := run(t, "spec", "validate", "--spec", path)
		require.Error(t, err, c.rule)
		require.Contains(t, err.Error(), path+c.want, c.rule)
	}
}

// An example or a violated_by value that does not fit its field is a spec error at its place.
func TestSpecValidatePlacesBadExamples(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"      qty: {type: integer, min: 1, example: 0}\n", `:4:7: field qty: example "0" is outside min/max`},
		{"      qty: {type: integer, example: many}\n", `:4:7: field qty: example "many" does not fit type integer`},
		{"      qty: integer\n    rules:\n      - {name: r, check: \"record.qty > 0\", violated_by: {qtty: 0}}\n",
			`:6:58: rule r: violated_by: "qtty" is not a field of items (did you mean "qty"?)`},
		{"      qty: integer\n    soft_delete: true\n    actions:\n      restore: {steps: [{set: {qty: \"1\"}}]}\n",
			`:7:7: action restore: a soft_delete resource has a built-in restore action`},
		{"      qty: integer\n    retention: 24h\n", `:2:3: resource items: retention is for soft_delete: true`},
	} {
		path := filepath.Join(t.TempDir(), "kiln.yaml")
		require.NoError(t, os.WriteFile(path, []byte("resources:\n  items:\n    fields:\n"+c.src), 0o644))
		_, err := run(t, "spec", "validate", "--spec", path)
		require.Error(t, err, c.src)
		require.Contains(t, err.Error(), path+c.want, c.src)
	}
}

// A project that keeps migrations for both dialects gets each change in both folders, each
// numbered after its own newest file; a destructive change in either writes neither.
func TestMigratePlanWritesEveryDialectFolderThatExists(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KILN_DATABASE_URL", "")
	out, err := run(t, "init", dir)
	require.NoError(t, err, out)
	specPath, data := filepath.Join(dir, "kiln.yaml"), filepath.Join(dir, "data")
	pgDir, liteDir := filepath.Join(dir, "migrations", "postgres"), filepath.Join(dir, "migrations", "sqlite")
	plan := func(args ...string) (string, error) {
		return run(t, append([]string{"migrate", "plan", "--spec", specPath, "--data-dir", data}, args...)...)
	}
	out, err = plan("--name", "init")
	require.NoError(t, err, out)
	require.NoDirExists(t, pgDir, "no postgres folder: only the database's dialect is written")
	require.NoError(t, os.MkdirAll(pgDir, 0o755))

	src, err := os.ReadFile(specPath)
	require.NoError(t, err)
	withPriority := strings.Replace(string(src), "      done: {type: boolean, default: false}\n",
		"      done: {type: boolean, default: false}\n      priority: {type: integer, default: 0}\n", 1)
	require.NoError(t, os.WriteFile(specPath, []byte(withPriority), 0o644))
	out, err = plan("--name", "priority")
	require.NoError(t, err, out)
	require.Contains(t, out, "for postgres")
	require.FileExists(t, filepath.Join(liteDir, "0002_priority.up.sql"))
	pgUp, err := os.ReadFile(filepath.Join(pgDir, "0001_priority.up.sql"))
	require.NoError(t, err, "the postgres folder was empty: its first file creates the whole schema")
	require.Contains(t, string(pgUp), "(postgres)")
	require.Contains(t, string(pgUp), `CREATE TABLE "notes"`)
	require.Contains(t, string(pgUp), "priority")

	out, err = plan()
	require.NoError(t, err, out)
	require.Contains(t, out, "already match")

	// Dropping the field is destructive: refused, and neither folder gets a file.
	require.NoError(t, os.WriteFile(specPath, src, 0o644))
	_, err = plan("--name", "drop")
	require.ErrorContains(t, err, "--allow-destructive")
	for _, d := range []string{liteDir, pgDir} {
		names, err := filepath.Glob(filepath.Join(d, "*drop*"))
		require.NoError(t, err)
		require.Empty(t, names, d)
	}
	out, err = plan("--name", "drop", "--allow-destructive")
	require.NoError(t, err, out)
	require.FileExists(t, filepath.Join(liteDir, "0003_drop.down.sql"))
	require.FileExists(t, filepath.Join(pgDir, "0002_drop.down.sql"))
}
