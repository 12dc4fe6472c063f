package kilntest_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// The shop's YAML tests and its derived suite, run from Go through the same harness as `kiln test`.
func TestShopThroughTheGoHarness(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		b := kilntest.New(t, "../examples/shop/kiln.yaml")
		b.Run(t, "../examples/shop/tests")
		b.RunDerived(t)
	})
}

func TestRunYAML(t *testing.T) {
	b := kilntest.New(t, "../examples/shop/kiln.yaml")
	b.RunYAML(t, "tags.yaml", `
endpoint: POST /api/tags
as: staff
test_cases:
  create:
    request:
      headers: {Authorization: "Bearer {valid_token}", Content-Type: application/json}
      body: {name: "go-{unique}"}
    expected:
      status: 201
      database_check:
        - Tag with name "go-{unique}" exists
`)
}

// The second example, a lending library of another shape (N:M authors, a limit per member, a
// copy lent once, a state machine, a return action): its derived suite passes too.
func TestLibraryDerivedSuite(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		kilntest.New(t, "../examples/library/kiln.yaml").RunDerived(t)
	})
}

// An account resource that declares its email itself (required, unique: docs/auth.md allows
// it) and another required address: `kiln test` makes its test accounts all the same. Before,
// it filled every required text field of the account with random digits, the email too, and
// every account was refused (validation_failed), so every case of a new user's spec failed.
func TestTestAccountsOfAnAccountThatDeclaresItsEmail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`name: accounts
server: {base_path: /api}
roles: [admin, member]
auth: {account: users, signup: open}
resources:
  users:
    access: {list: [admin], view: [admin], update: [admin], delete: [admin]}
    fields:
      email: {type: email, required: true, unique: true}
      backup_email: {type: email, required: true}
      site: {type: url, required: true}
      name: {type: string, required: true, max_length: 100}
`), 0o600))
	b := kilntest.New(t, path)
	b.RunYAML(t, "me.yaml", `
endpoint: GET /api/auth/me
test_cases:
  me_as_member:
    as: member
    request:
      headers: {Authorization: "Bearer {valid_token}"}
    expected:
      status: 200
  me_as_another_member:
    as: member:other
    request:
      headers: {Authorization: "Bearer {valid_token}"}
    expected:
      status: 200
`)
}

// A spec whose database.url names the app's PostgreSQL (database: url: ${APP_DB}) is run on a
// schema of its own, as a DatabaseURL given to Start is: used as it was, the tests wrote into
// the app's own tables and left a migration there that failed the next run (a new user's
// trial of the Go harness).
func TestStartNeverWritesIntoTheSpecsDatabase(t *testing.T) {
	appDB := testdb.PostgresURL(t) // the app's database: a schema the test made
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte("name: notes\ndatabase: {url: \"${APP_DB}\"}\nresources:\n  notes:\n    fields: {title: string}\n"), 0o600))
	lookup := func(k string) (string, bool) {
		if k == "APP_DB" {
			return appDB, true
		}
		return "", false
	}
	for run := 0; run < 2; run++ { // the second run met the first one's migration
		b, err := kilntest.Start(context.Background(), kiln.Config{SpecPath: path, LookupEnv: lookup}, "")
		require.NoError(t, err, "run %d", run)
		res, err := http.Post(b.URL+"/api/notes", "application/json", strings.NewReader(`{"title":"t"}`))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusCreated, res.StatusCode)
		b.Close()
	}
	conn, err := pgx.Connect(context.Background(), appDB)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var tables int
	require.NoError(t, conn.QueryRow(context.Background(),
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&tables))
	require.Zero(t, tables, "nothing was written into the app's database")
}
