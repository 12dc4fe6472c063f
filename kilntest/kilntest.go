// Package kilntest runs a Kiln backend for tests and runs `kiln test` YAML files against it
// from Go: `kiln test` and Go tests (Kiln's own and its users') share this one harness.
//
//	func TestAPI(t *testing.T) {
//		b := kilntest.New(t, "kiln.yaml")
//		b.Run(t, "tests")        // YAML files or folders, each case a subtest
//		b.RunDerived(t)          // the conformance suite derived from the spec
//	}
package kilntest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Backend is a Kiln app serving on a local port, on a database made for it.
type Backend struct {
	App     *kiln.App
	URL     string
	env     *kiln.TestEnv // test accounts and database checks, shared by every file run
	cleanup []func()
}

// Start runs the app of cfg.SpecPath on a fresh database — a temporary SQLite file, or a new
// PostgreSQL schema (dropped by Close) of cfg.DatabaseURL, or else of the spec's own
// database.url: a test never writes into the database the app uses — with the schema planned
// and applied, the seed file loaded when it exists, and rate limits off (tests send many
// requests from one address). No job workers run: a test that needs triggers, schedules or
// webhooks delivered starts them (go b.App.RunWorkers(ctx)). Close stops it and removes what
// it made.
func Start(ctx context.Context, cfg kiln.Config, seedPath string) (*Backend, error) {
	b := &Backend{}
	dir, err := os.MkdirTemp("", "kiln-test-")
	if err != nil {
		return nil, err
	}
	b.onClose(func() { _ = os.RemoveAll(dir) })
	cfg.DataDir, cfg.MigrationsDir, cfg.Dev, cfg.NoRateLimits, cfg.NoWorkers = dir, filepath.Join(dir, "migrations"), true, true, true
	if cfg.DatabaseURL == "" {
		// the spec's own URL (database: url: ${KILN_DATABASE_URL:-}) gets a schema of its own
		// too: used as it is, the tests wrote into the app's tables (a new user's trial)
		if cfg.DatabaseURL, err = specDatabaseURL(cfg); err != nil {
			b.Close()
			return nil, err
		}
	}
	if cfg.DatabaseURL != "" {
		url, drop, err := freshSchema(ctx, cfg.DatabaseURL)
		if err != nil {
			b.Close()
			return nil, err
		}
		cfg.DatabaseURL = url
		b.onClose(drop)
	}
	if err := b.start(ctx, cfg, seedPath); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Backend) start(ctx context.Context, cfg kiln.Config, seedPath string) error {
	app, err := kiln.New(ctx, cfg)
	if err != nil {
		return err
	}
	b.App = app
	b.onClose(func() { _ = app.Close() })
	if err := loadSeed(ctx, app, seedPath); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.Handler()}
	go func() { _ = srv.Serve(ln) }()
	b.onClose(func() { _ = srv.Close() })
	b.URL = "http://" + ln.Addr().String()
	b.env = app.NewTestEnv(b.URL)
	return nil
}

// loadSeed loads the seed file; a missing file is no seed, a broken one an error.
func loadSeed(ctx context.Context, app *kiln.App, path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	blocks, err := kiln.LoadSeed(path)
	if err != nil {
		return err
	}
	_, err = app.Seed(ctx, blocks, nil)
	return err
}

func (b *Backend) onClose(f func()) { b.cleanup = append(b.cleanup, f) }

// Env is what `kiln test` runs files with: the backend's URL, test accounts per role and
// database checks through the store.
func (b *Backend) Env() *kiln.TestEnv { return b.env }

// Close stops the server and removes the database it made, last made first.
func (b *Backend) Close() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		b.cleanup[i]()
	}
	b.cleanup = nil
}

// New is Start for Go tests: the spec's seed.json is loaded, PostgreSQL is used when
// KILN_DATABASE_URL is set, a failure stops the test, and the backend closes with it.
func New(t testing.TB, specPath string) *Backend {
	t.Helper()
	cfg := kiln.Config{SpecPath: specPath, DatabaseURL: os.Getenv("KILN_DATABASE_URL")}
	b, err := Start(context.Background(), cfg, filepath.Join(filepath.Dir(specPath), "seed.json"))
	if err != nil {
		t.Fatalf("start %s: %v", specPath, kiln.DescribeError(err))
	}
	t.Cleanup(b.Close)
	return b
}

// specDatabaseURL is the database.url of cfg's spec, its ${…} read as the app would read them.
func specDatabaseURL(cfg kiln.Config) (string, error) {
	lookup := cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	s, err := spec.Load(cfg.SpecPath, spec.ParseOpts{LookupEnv: lookup})
	if err != nil {
		return "", err
	}
	return s.Database.URL, nil
}

// freshSchema creates a schema for one run and returns a URL that uses it, and its drop.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, errors.New("connect to the database URL for a test schema failed")
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	schema := "kiln_selftest_" + hex.EncodeToString(r[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = conn.Close(ctx)
		return "", nil, fmt.Errorf("create test schema: %w", err)
	}
	_ = conn.Close(ctx)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	drop := func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			_ = c.Close(context.Background())
		}
	}
	return base + sep + "search_path=" + schema, drop, nil
}
