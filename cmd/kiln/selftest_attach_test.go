package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// 9f59162 made the commands that only inspect or administer a database (kiln jobs,
// keys, users, seed) leave the spec's webhook subscriptions as the serving processes stored
// them (Config.Admin). `kiln test --url` attaches to the database of a server already running
// (attach) and did so without Admin: run from a shell (CI) without the URL's variable, it
// rewrote the subscription every running server delivers to (found by a hostile review).
func TestSelftestAttachLeavesTheSpecSubscriptions(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(`resources:
  notes:
    fields:
      title: string
webhooks:
  - name: hook
    url: ${HOOK_URL}
    events: [notes.create]
    secret_env: HOOK_SECRET
webhooks_allow_hosts: [127.0.0.1]
`), 0o644))
	env := map[string]string{"HOOK_URL": "http://127.0.0.1:9/serving", "HOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA="}
	serving, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: dir, Dev: true, NoWorkers: true,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = serving.Close() })
	url := func() string {
		rows, err := serving.Store.Reader().QueryRaw(context.Background(), "SELECT url FROM kiln_webhooks WHERE name = 'hook'")
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		var u string
		require.NoError(t, rows.Scan(&u))
		return u
	}
	require.Equal(t, "http://127.0.0.1:9/serving", url())

	t.Setenv("HOOK_URL", "http://127.0.0.1:9/other-shell")
	t.Setenv("HOOK_SECRET", env["HOOK_SECRET"])
	_, _, stop, err := attach(context.Background(), &settings{spec: specPath, dataDir: dir}, "http://127.0.0.1:9")
	require.NoError(t, err)
	stop()
	require.Equal(t, "http://127.0.0.1:9/serving", url(), "kiln test --url rewrote the running servers' subscription")
}
