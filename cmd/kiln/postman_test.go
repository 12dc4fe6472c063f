package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// newman finds the Newman the test script installs (KILN_NEWMAN), or one on PATH.
func newman(t *testing.T) string {
	if p := os.Getenv("KILN_NEWMAN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("newman"); err == nil {
		return p
	}
	if testdb.Required() {
		t.Fatal("Newman is required (KILN_REQUIRE_SERVICES=1): run ./scripts/test.sh, which installs it")
	}
	t.Skip("SKIPPED: Newman not installed (./scripts/test.sh installs it into .tools/)")
	return ""
}

func TestNewmanRunsTheExportedCollection(t *testing.T) {
	bin := newman(t)
	t.Setenv("KILN_DATABASE_URL", "")
	dir := t.TempDir()
	coll := filepath.Join(dir, "collection.json")
	out, err := run(t, "spec", "postman", "--spec", "../../examples/shop/kiln.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(coll, []byte(out), 0o644))

	ctx := context.Background()
	app, err := kiln.New(ctx, kiln.Config{SpecPath: "../../examples/shop/kiln.yaml", DataDir: dir,
		MigrationsDir: filepath.Join(dir, "migrations"), Dev: true, AuthSecret: "newman-test-secret-0123456789abcdef",
		LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	defer app.Close()
	blocks, err := kiln.LoadSeed("../../examples/shop/seed.json")
	require.NoError(t, err)
	_, err = app.Seed(ctx, blocks, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: app.Handler()}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(bin, "run", coll, "--env-var", "baseUrl=http://"+ln.Addr().String(),
		"--env-var", "email=admin@shop.example", "--env-var", "password=demo-admin-password",
		"--reporters", "cli,json", "--reporter-json-export", report, "--color", "off")
	res, err := cmd.CombinedOutput()
	require.NoError(t, err, "newman failed:\n%s", res)
	checkNewmanReport(t, report, requestsIn(t, []byte(out)))
}

// checkNewmanReport reads Newman's JSON report: every request of the collection ran, each
// with at least one test assertion, none failed.
func checkNewmanReport(t *testing.T, path string, requests int) {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var report struct {
		Run struct {
			Stats struct {
				Requests   struct{ Total, Failed int }
				Assertions struct{ Total, Failed int }
			}
			Executions []struct {
				Item       struct{ Name string }
				Assertions []struct {
					Assertion string
					Error     *struct{ Message string }
				}
			}
			Failures []json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal(raw, &report))
	run := report.Run
	require.Empty(t, run.Failures)
	require.Equal(t, requests, run.Stats.Requests.Total, "every request of the collection ran")
	require.Len(t, run.Executions, requests)
	require.Zero(t, run.Stats.Requests.Failed)
	require.Zero(t, run.Stats.Assertions.Failed)
	for _, ex := range run.Executions {
		require.NotEmpty(t, ex.Assertions, "request %q tests nothing", ex.Item.Name)
		for _, a := range ex.Assertions {
			require.Nil(t, a.Error, "%s: %s", ex.Item.Name, a.Assertion)
		}
	}
	require.GreaterOrEqual(t, run.Stats.Assertions.Total, requests)
}

// requestsIn counts the requests of a Postman collection, in folders at any depth.
func requestsIn(t *testing.T, collection []byte) int {
	var doc struct{ Item []json.RawMessage }
	require.NoError(t, json.Unmarshal(collection, &doc))
	n := 0
	for _, raw := range doc.Item {
		var it struct {
			Request json.RawMessage
			Item    []json.RawMessage
		}
		require.NoError(t, json.Unmarshal(raw, &it))
		if it.Request != nil {
			n++
		}
		if it.Item != nil {
			sub, _ := json.Marshal(map[string]any{"item": it.Item})
			n += requestsIn(t, sub)
		}
	}
	require.Positive(t, n)
	return n
}
