package main

import (
	"context"
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

	cmd := exec.Command(bin, "run", coll, "--env-var", "baseUrl=http://"+ln.Addr().String(),
		"--env-var", "email=admin@shop.example", "--env-var", "password=demo-admin-password", "--reporters", "cli", "--color", "off")
	res, err := cmd.CombinedOutput()
	require.NoError(t, err, "newman failed:\n%s", res)
	require.Contains(t, string(res), "assertions")
}
