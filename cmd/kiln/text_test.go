package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/testdb"
)

// The CLI refuses text the database could not store alike on both dialects, before any SQL:
// invalid UTF-8 in flags (arguments cannot carry NUL on Unix) and NUL in a seed file.
func TestCLIRefusesUnusableText(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
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
		out, err := run(t, "keys", "create", "--spec", specPath, "--data-dir", data, "--name", "ci\xff", "--role", "staff", "--scope", "products:read")
		require.Error(t, err, out)
		require.Contains(t, out+err.Error(), "UTF-8")
		var buf bytes.Buffer
		root := newRoot(&output{out: &buf, err: &buf})
		root.SetArgs([]string{"users", "create", "--spec", specPath, "--data-dir", data, "--email", "a\xff@example.com", "--role", "staff",
			"--name", "A", "--password-stdin"})
		root.SetIn(strings.NewReader("a strong password\n"))
		err = root.ExecuteContext(context.Background())
		require.Error(t, err, buf.String())
		require.Contains(t, buf.String()+err.Error(), "UTF-8")

		seed := filepath.Join(dir, "nul-seed.json")
		require.NoError(t, os.WriteFile(seed, []byte(`[{"resource":"tags","records":[{"id":"0192f0a0-0000-7000-8000-0000000000f1","name":"a\u0000b"}]}]`), 0o644))
		out, err = run(t, "seed", "--spec", specPath, "--data-dir", data, "--file", seed)
		require.Error(t, err, out)
		require.Contains(t, out+err.Error(), "NUL")
	})
}
