package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
)

// settings are the flags every command that opens the app shares, with env fallbacks.
type settings struct {
	spec    string
	dataDir string
	dbURL   string
	migDir  string
	tlsCert string // serve only
	tlsKey  string
}

func (s *settings) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.spec, "spec", envOr("KILN_SPEC", "kiln.yaml"), "spec file (env KILN_SPEC)")
	f.StringVar(&s.dataDir, "data-dir", envOr("KILN_DATA_DIR", "kiln_data"), "directory for the embedded SQLite database (env KILN_DATA_DIR)")
	f.StringVar(&s.migDir, "migrations", os.Getenv("KILN_MIGRATIONS_DIR"), "migrations directory (default: migrations/ beside the spec)")
	s.dbURL = os.Getenv("KILN_DATABASE_URL")
}

func (s *settings) config(log *slog.Logger) kiln.Config {
	return kiln.Config{SpecPath: s.spec, DataDir: s.dataDir, DatabaseURL: s.dbURL, MigrationsDir: s.migDir, Logger: log,
		TLSCertFile: s.tlsCert, TLSKeyFile: s.tlsKey}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(key string) bool {
	b, _ := strconv.ParseBool(os.Getenv(key))
	return b
}

// envBoolDefault reads a boolean variable, def when it is unset or not a boolean.
func envBoolDefault(key string, def bool) bool {
	b, err := strconv.ParseBool(os.Getenv(key))
	if err != nil {
		return def
	}
	return b
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRoot(o *output) *cobra.Command {
	root := &cobra.Command{
		Use:           "kiln",
		Short:         "Kiln turns a spec into a running, tested backend",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every command that reads a spec says where it looked before anything else fails.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return checkSpecFlag(cmd) },
	}
	root.AddCommand(newInit(o), newServe(o), newWorker(o), newSpecCmd(o), newMigrate(o), newSeed(o), newUsers(o), newKeys(o), newTest(o), newJobs(o))
	return root
}

// checkSpecFlag explains a missing spec file: which file was looked for and how to get one.
func checkSpecFlag(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("spec")
	if f == nil {
		return nil
	}
	path := f.Value.String()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // other problems are reported, with their position, when the spec is read
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return fmt.Errorf("no spec file %s (looked for %s): point to yours with --spec path/to/kiln.yaml (or KILN_SPEC), "+
		"or create one with `kiln init`", path, abs)
}

// describeErr shows a service error's field problems, which a CLI user cannot see otherwise.
func describeErr(err error) error { return kiln.DescribeError(err) }
