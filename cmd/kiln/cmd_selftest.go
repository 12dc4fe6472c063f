package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/selftest"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/kilntest"
)

// errTestsFailed makes kiln exit 1 without another line after the summary.
var errTestsFailed = errors.New("tests failed")

func newTest(o *output) *cobra.Command {
	var s settings
	var junit, jsonOut, target, out string
	var generate, derived, force bool
	cmd := &cobra.Command{
		Use:   "test [files or dirs...]",
		Short: "Run YAML API tests against the spec's backend, started in-process on a fresh database",
		Long: "Run YAML API tests. --generate writes the conformance suite derived from the spec (every resource\n" +
			"and action) to --out; --derived runs that suite without writing it. The backend started in-process\n" +
			"runs no job workers: jobs are enqueued, not worked, and Go handlers (handler: in the spec) never run.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if generate {
				return generateTests(o, &s, out, force)
			}
			files, err := selectTests(o, &s, args, derived)
			if err != nil {
				return err
			}
			results, err := runTests(cmd.Context(), o, &s, files, target)
			if err != nil {
				return err
			}
			return report(o, results, junit, jsonOut)
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&junit, "junit", "", "also write JUnit XML to this file")
	cmd.Flags().StringVar(&jsonOut, "json", "", "also write JSON results to this file")
	cmd.Flags().StringVar(&target, "url", "", "test a running server at this URL instead; database checks and test accounts use "+
		"the configured database (--data-dir / KILN_DATABASE_URL) and tokens need the server's KILN_AUTH_SECRET")
	cmd.Flags().BoolVar(&generate, "generate", false, "write the test suite derived from the spec to --out, then stop")
	cmd.Flags().StringVar(&out, "out", "", "where --generate writes (default: tests/derived beside the spec)")
	cmd.Flags().BoolVar(&force, "force", false, "with --generate, replace files that differ from what the spec derives")
	cmd.Flags().BoolVar(&derived, "derived", false, "run the suite derived from the spec (with any files given) without writing it")
	return cmd
}

func generateTests(o *output, s *settings, out string, force bool) error {
	suite, err := deriveSuite(s.spec, os.LookupEnv)
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(filepath.Dir(s.spec), "tests", "derived")
	}
	return writeDerived(o, suite, out, force)
}

// selectTests loads the files to run: those named (default tests/ beside the spec unless
// --derived), plus the derived suite with --derived.
func selectTests(o *output, s *settings, args []string, derived bool) ([]*selftest.File, error) {
	var out []*selftest.File
	if derived {
		suite, err := deriveSuite(s.spec, os.LookupEnv)
		if err != nil {
			return nil, err
		}
		reportGaps(o, suite)
		if out, err = parseDerived(suite, "derived"); err != nil {
			return nil, err
		}
		if len(args) == 0 {
			return out, nil
		}
	}
	paths, err := testFiles(args, s.spec)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		tf, err := selftest.LoadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, tf)
	}
	return out, nil
}

// testFiles expands the arguments (default: tests/ beside the spec) into test files. With
// no arguments, a project without tests — no tests/ folder, or none of its files YAML — is
// told how to get some rather than shown a bare stat error.
func testFiles(args []string, spec string) ([]string, error) {
	if len(args) > 0 {
		return selftest.FindFiles(args)
	}
	dir := filepath.Join(filepath.Dir(spec), "tests")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no tests yet: no tests/ folder beside the spec (%s). %s", dir, howToGetTests)
	}
	files, err := selftest.FindFiles([]string{dir})
	if errors.Is(err, selftest.ErrNoTestFiles) {
		return nil, fmt.Errorf("no tests yet: no *.yaml file under %s. %s", dir, howToGetTests)
	}
	return files, err
}

// howToGetTests is what kiln test tells a project without tests.
const howToGetTests = "Write YAML test cases under tests/ (docs/testing.md), or run kiln test --derived " +
	"for the suite Kiln derives from the spec (kiln test --generate writes it to tests/derived to edit and keep)"

func runTests(ctx context.Context, o *output, s *settings, parsed []*selftest.File, target string) ([]selftest.Result, error) {
	start := startForTests
	if target != "" {
		start = func(ctx context.Context, s *settings) (*kiln.App, string, func(), error) {
			return attach(ctx, s, target)
		}
	}
	app, url, stop, err := start(ctx, s)
	if err != nil {
		return nil, err
	}
	defer stop()
	if names := goHandlers(app.Spec); target == "" && len(names) > 0 {
		o.warn("Go job handlers (%s) do not run in kiln test: it runs no workers, their jobs are only enqueued",
			strings.Join(names, ", "))
	}
	runner := &selftest.Runner{Env: app.NewTestEnv(url)}
	var all []selftest.Result
	for _, f := range parsed {
		results := runner.RunFile(ctx, f)
		passed, failed := selftest.Summary(results)
		if failed > 0 {
			o.info("%s %s  %d passed, %d failed", o.paint("31", "✗"), f.Path, passed, failed)
		} else {
			o.ok("%s  %d passed", f.Path, passed)
		}
		all = append(all, results...)
	}
	return all, nil
}

// startForTests runs the app on a fresh database (a temporary SQLite file, or a new
// PostgreSQL schema dropped afterwards) with migrations applied and the seed loaded.
func startForTests(ctx context.Context, s *settings) (*kiln.App, string, func(), error) {
	b, err := kilntest.Start(ctx, s.config(discardLogger()), seedPath("", s.spec))
	if err != nil {
		return nil, "", nil, err
	}
	return b.App, b.URL, b.Close, nil
}

func report(o *output, results []selftest.Result, junit, jsonOut string) error {
	selftest.WriteFailures(o.out, results)
	selftest.WriteTimes(o.out, results)
	if junit != "" {
		if err := selftest.WriteJUnit(junit, results); err != nil {
			return err
		}
	}
	if jsonOut != "" {
		if err := selftest.WriteJSON(jsonOut, results); err != nil {
			return err
		}
	}
	passed, failed := selftest.Summary(results)
	fmt.Fprintf(o.out, "\n%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return errTestsFailed
	}
	return nil
}

// attach opens the configured database of a server that is already running at url, for
// database checks and test accounts; nothing is migrated or seeded.
func attach(ctx context.Context, s *settings, url string) (*kiln.App, string, func(), error) {
	cfg := s.config(discardLogger())
	cfg.Admin, cfg.NoWorkers = true, true // the running servers' webhook subscriptions and jobs are theirs
	app, err := kiln.New(ctx, cfg)
	if err != nil {
		return nil, "", nil, err
	}
	return app, strings.TrimSuffix(url, "/"), func() { _ = app.Close() }, nil
}

// goHandlers are the Go handlers the spec's triggers, schedules and incoming webhooks name:
// the kiln binary registers none.
func goHandlers(sp *spec.Spec) []string {
	var names []string
	for _, r := range sp.Resources {
		for _, t := range r.Triggers {
			names = append(names, t.Handler)
		}
	}
	for _, sc := range sp.Schedules {
		names = append(names, sc.Handler)
	}
	for _, in := range sp.Webhooks.Incoming {
		if !in.Payments {
			names = append(names, in.Handler)
		}
	}
	return slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(names))), func(n string) bool { return n == "" })
}
