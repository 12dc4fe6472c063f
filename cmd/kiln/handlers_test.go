package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// handlerSpec names a Go job handler only an embedding program registers.
const handlerSpec = librarySpec + `  tickets:
    fields:
      title: string
    access: {list: public, view: public, create: [member], update: [member], delete: [member]}
    triggers:
      - {name: resolved, on: [create], handler: notify_resolved}
`

// A spec naming a Go handler the kiln binary cannot register blocks only the commands that
// would work its jobs (kiln serve with workers, kiln worker): the account, key, seed and
// test commands run no workers, so they work (a new user's embedding).
func TestHandlerNamesBlockOnlyCommandsThatWorkJobs(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	t.Setenv("KILN_AUTH_SECRET", "a-shared-secret-for-this-test-0123456789")
	dir := t.TempDir()
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(handlerSpec), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seed.json"),
		[]byte(`[{"resource":"tickets","records":[{"id":"0192f0a0-0000-7000-8000-0000000000f1","title":"seeded"}]}]`), 0o644))
	data := filepath.Join(dir, "data")
	at := []string{"--spec", specPath, "--data-dir", data}
	for _, args := range [][]string{{"migrate", "plan", "--name", "init"}, {"migrate", "up"}} {
		out, err := run(t, append(args, at...)...)
		require.NoError(t, err, out)
	}
	const refused = "names handler notify_resolved, a Go function this process does not register"
	_, err := run(t, append([]string{"worker"}, at...)...)
	require.ErrorContains(t, err, refused, "kiln worker works the jobs")
	_, err = run(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, at...)...)
	require.ErrorContains(t, err, refused, "kiln serve works them by default")

	out, err := createMember(t, specPath, data, "--email", "a@example.com", "--name", "A", "--set", "card_number=1")
	require.NoError(t, err, out)
	for _, args := range [][]string{{"keys", "list"}, {"seed"}, {"test", "--generate"}} {
		out, err := run(t, append(args, at...)...)
		require.NoError(t, err, "%v: %s", args, out)
	}
	for _, args := range [][]string{{"test"}, {"test", "--derived"}} {
		out, err := run(t, append(args, at...)...)
		require.NoError(t, err, "%v: %s", args, out)
		require.Contains(t, out, "Go job handlers (notify_resolved) do not run in kiln test", "%v", args)
	}
	addr := serveInBackground(t, append([]string{"--workers=false"}, at...)...)
	out, err = run(t, append([]string{"test", "--derived", "--url", "http://" + addr}, at...)...)
	require.NoError(t, err, out)
}
