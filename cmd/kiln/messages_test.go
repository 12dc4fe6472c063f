package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServeWithoutSpecSaysWhereItLookedAndWhatToDo(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("KILN_SPEC", "")
	out, err := run(t, "serve", "--addr", "127.0.0.1:0")
	require.Error(t, err, out)
	want := "no spec file kiln.yaml (looked for " + filepath.Join(dir, "kiln.yaml") + ")"
	require.ErrorContains(t, err, want)
	require.ErrorContains(t, err, "--spec")
	require.ErrorContains(t, err, "kiln init")

	_, err = run(t, "users", "create", "--spec", "elsewhere/kiln.yaml", "--email", "a@example.com", "--role", "x")
	require.ErrorContains(t, err, "looked for "+filepath.Join(dir, "elsewhere", "kiln.yaml"), "every command with --spec says so")
}

// scaffold makes a project with kiln init and returns its spec path.
func scaffold(t *testing.T) string {
	t.Helper()
	t.Setenv("KILN_DATABASE_URL", "")
	dir := filepath.Join(t.TempDir(), "app")
	out, err := run(t, "init", dir)
	require.NoError(t, err, out)
	return filepath.Join(dir, "kiln.yaml")
}

func TestServeRefusesAnAddressItCannotListenOn(t *testing.T) {
	specPath := scaffold(t)
	data := filepath.Join(t.TempDir(), "data")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	for _, addr := range []string{busy.Addr().String(), "127.0.0.1:notaport"} {
		t.Run(addr, func(t *testing.T) {
			out, err := run(t, "serve", "--dev", "--spec", specPath, "--data-dir", data, "--addr", addr)
			require.Error(t, err, out)
			require.ErrorContains(t, err, "cannot listen on "+addr)
			require.NotContains(t, out, "serving", "✓ only once listening")
		})
	}
}

func TestInitPrintsAShellQuotedHint(t *testing.T) {
	t.Chdir(t.TempDir())
	out, err := run(t, "init", "bad name!")
	require.NoError(t, err, out)
	require.Contains(t, out, "cd 'bad name!' && kiln serve --dev")
	out, err = run(t, "spec", "validate", "--spec", filepath.Join("bad name!", "kiln.yaml"))
	require.NoError(t, err, out)
	readme, err := os.ReadFile(filepath.Join("bad name!", "README.md"))
	require.NoError(t, err)
	require.Contains(t, string(readme), "`go install ./cmd/kiln`", "the scaffolded README says how to get kiln")

	out, err = run(t, "init", "it's: #1")
	require.NoError(t, err, out)
	require.Contains(t, out, `cd 'it'\''s: #1' && kiln serve --dev`)
	if sh, err := exec.LookPath("sh"); err == nil { // the hint is what a shell reads back
		b, err := exec.Command(sh, "-c", "cd 'it'\\''s: #1' && pwd").Output()
		require.NoError(t, err)
		require.Contains(t, string(b), "it's: #1")
	}
	src, err := os.ReadFile(filepath.Join("it's: #1", "kiln.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(src), `name: "it's: #1"`, "the name is quoted in YAML too")
	out, err = run(t, "spec", "validate", "--spec", filepath.Join("it's: #1", "kiln.yaml"))
	require.NoError(t, err, out)
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"app": "app", "./my-app_2": "./my-app_2", "bad name!": "'bad name!'", "a'b": `'a'\''b'`, "": "''", "$HOME": "'$HOME'",
	} {
		require.Equal(t, want, shellQuote(in), in)
	}
}

func TestMinOnADatetimeSuggestsARule(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	const head = "name: library\nresources:\n  loans:\n    fields:\n"
	bad := head + "      due_at: {type: datetime, required: true, min: 0}\n      starts_on: {type: date, max: 3}\n"
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	_, err := run(t, "spec", "validate", "--spec", path)
	require.ErrorContains(t, err, `field due_at: min/max apply to integer, number and decimal; bound a datetime with a rule, `+
		`e.g. check: 'record.due_at >= timestamp("2024-01-01T00:00:00Z")'`)
	require.ErrorContains(t, err, `field starts_on: min/max apply to integer, number and decimal; bound a date with a rule, `+
		`e.g. check: 'record.starts_on >= "2024-01-01"'`)
	require.NotContains(t, err.Error(), "min_length", "length bounds do not apply to datetimes")

	// What the message suggests is a spec that loads.
	good := head + "      due_at: {type: datetime, required: true}\n      starts_on: {type: date}\n" +
		"    rules:\n" +
		"      - {name: due_at_bound, check: 'record.due_at >= timestamp(\"2024-01-01T00:00:00Z\")', fields: [due_at]}\n" +
		"      - {name: due_at_future, check: 'record.due_at > now', fields: [due_at]}\n" +
		"      - {name: starts_on_bound, check: 'record.starts_on >= \"2024-01-01\"', fields: [starts_on]}\n"
	require.NoError(t, os.WriteFile(path, []byte(good), 0o644))
	out, err := run(t, "spec", "validate", "--spec", path)
	require.NoError(t, err, out)
}

func TestServeWarnsWhenTheSpecHasNoAuthBlock(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.Addr().String()
	open := scaffold(t) // kiln init's spec: no auth block
	out, err := run(t, "serve", "--dev", "--spec", open, "--data-dir", filepath.Join(t.TempDir(), "d"), "--addr", addr)
	require.ErrorContains(t, err, "cannot listen", "the busy port ends serve right after the warning")
	require.Contains(t, out, "! "+open+" has no auth block: every action of every resource is open to anyone")

	out, err = run(t, "serve", "--dev", "--spec", "../../examples/shop/kiln.yaml", "--data-dir", filepath.Join(t.TempDir(), "d"), "--addr", addr)
	require.ErrorContains(t, err, "cannot listen")
	require.NotContains(t, out, "auth block", "a spec with accounts is not open")
}
