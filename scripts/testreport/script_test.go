package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The steps of scripts/test.sh (scripts/lib.sh) run against a scratch module: a skipped test,
// two failing tests, a build error, a renamed fuzz target and a failing one. Each must fail
// the step (and so .ci/run, which runs test.sh with KILN_REQUIRE_SERVICES=1 under set -e)
// and say what failed.

var scratch = map[string]string{
	"go.mod": "module scratch\n\ngo 1.26\n",
	"skips/skips_test.go": `package skips

import "testing"

func TestPasses(t *testing.T) {}

func TestSkips(t *testing.T) { t.Skip("SKIPPED: the thing it needs is not there") }
`,
	"fails/fails_test.go": `package fails

import "testing"

func TestFailsOne(t *testing.T) { t.Error("boom one") }

func TestFailsTwo(t *testing.T) {
	t.Run("Inner", func(t *testing.T) { t.Error("boom two") })
}

func TestPasses(t *testing.T) {}
`,
	"panics/panics_test.go": `package panics

import "testing"

func TestPanics(t *testing.T) { panic("kaboom") }
`,
	"broken/broken_test.go": `package broken

import "testing"

func TestBroken(t *testing.T) { undefinedThing() }
`,
	"fuzz/fuzz_test.go": `package fuzz

import "testing"

func FuzzRenamedTarget(f *testing.F) {
	f.Add("a")
	f.Fuzz(func(t *testing.T, s string) {})
}

func FuzzFindsABug(f *testing.F) {
	f.Add("a")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 2 {
			t.Fatalf("too long: %q", s)
		}
	})
}
`,
}

type bundle struct {
	t         *testing.T
	dir, root string
	report    string // the built testreport
}

func setup(t *testing.T) *bundle {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	b := &bundle{t: t, dir: t.TempDir(), root: root, report: filepath.Join(t.TempDir(), "testreport")}
	for name, src := range scratch {
		path := filepath.Join(b.dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	}
	build := exec.Command("go", "build", "-o", b.report, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	return b
}

// step runs a lib.sh function in the scratch module; required sets KILN_REQUIRE_SERVICES=1.
func (b *bundle) step(required bool, call string) (string, error) {
	cmd := exec.Command("bash", "-c", `set -euo pipefail; source "$KILN_ROOT/scripts/lib.sh"; `+call)
	cmd.Dir = b.dir
	env := []string{"KILN_ROOT=" + b.root, "KILN_TESTREPORT=" + b.report, "GOWORK=off", "GOFLAGS="}
	if required {
		env = append(env, "KILN_REQUIRE_SERVICES=1")
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "KILN_REQUIRE_SERVICES" && k != "KILN_TESTREPORT" && k != "GOFLAGS" {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestScriptFailsOnASkipInCI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out, err := b.step(true, "run_tests ./skips/")
	require.Error(t, err, out)
	require.Contains(t, out, "--- SKIP: TestSkips (scratch/skips): SKIPPED: the thing it needs is not there")
	require.Contains(t, out, "skipped tests fail the run with KILN_REQUIRE_SERVICES=1")
	require.Contains(t, out, "1 passed, 0 failed, 1 skipped")

	out, err = b.step(false, "run_tests ./skips/")
	require.NoError(t, err, "outside CI a skip is reported, not failed:\n%s", out)
	require.Contains(t, out, "--- SKIP: TestSkips")
}

func TestScriptListsEveryFailingTest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out, err := b.step(false, "run_tests ./fails/ ./skips/")
	require.Error(t, err, out)
	for _, want := range []string{"FAIL\tscratch/fails", "ok\tscratch/skips", "--- FAIL: TestFailsOne (scratch/fails)", "boom one",
		"--- FAIL: TestFailsTwo/Inner (scratch/fails)", "boom two", "3 failed"} {
		require.Contains(t, out, want)
	}
	out, err = b.step(false, "run_tests ./broken/")
	require.Error(t, err, out)
	require.Contains(t, out, "undefined: undefinedThing", "a build error is shown")
	out, err = b.step(false, "run_tests ./panics/")
	require.Error(t, err, out)
	require.Contains(t, out, "TestPanics")
	require.Contains(t, out, "panic: kaboom", "so is a panic")
}

func TestScriptFuzzesEveryDeclaredTargetAndShowsTheFailingInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out, err := b.step(false, "fuzz_targets")
	require.Error(t, err, "a package that does not build fails the listing:\n%s", out)
	require.Contains(t, out, "undefined: undefinedThing")
	require.NoError(t, os.RemoveAll(filepath.Join(b.dir, "broken")))
	out, err = b.step(false, "fuzz_targets")
	require.NoError(t, err, out)
	require.Equal(t, "scratch/fuzz FuzzFindsABug\nscratch/fuzz FuzzRenamedTarget\n", out, "targets come from the func Fuzz declarations")

	out, err = b.step(false, "fuzz_one ./fuzz FuzzOldName 1s")
	require.Error(t, err, "a target that does not exist fails:\n%s", out)
	require.Contains(t, out, "FuzzOldName: no such fuzz target")
	out, err = b.step(false, "fuzz_one ./skips FuzzOldName 1s")
	require.Error(t, err, "in a package without fuzz targets too (go test says nothing there):\n%s", out)
	require.Contains(t, out, "FuzzOldName: no such fuzz target")

	out, err = b.step(false, "KILN_FUZZTIME=5000x fuzz_all") // iterations, not seconds: no clock in the test
	require.Error(t, err, out)
	require.Contains(t, out, "ok scratch/fuzz FuzzRenamedTarget", "the other targets still run")
	require.Contains(t, out, "FAIL scratch/fuzz FuzzFindsABug")
	require.Contains(t, out, "too long:", "the fuzzer's output is shown")
	require.Contains(t, out, "failing input ("+filepath.Join(b.dir, "fuzz", "testdata", "fuzz", "FuzzFindsABug")+"/", "and the input that failed")
	require.Contains(t, out, "go test fuzz v1")
	require.Contains(t, out, "fuzzed 2 targets, 1 failed")
}

// With the binaries built beforehand in the background (fuzz_prebuild, as scripts/test.sh
// does while the test steps run), fuzz_all fuzzes the same targets with the same verdicts,
// and what the prebuild keeps is not exported to the go test commands run meanwhile (this
// test's scratch runs saw CI's own targets when it was).
func TestScriptFuzzesTheSameWithItsBinariesBuiltBeforehand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, os.RemoveAll(filepath.Join(b.dir, "broken")))
	out, err := b.step(false, `fuzz_prebuild; env | grep -c '^KILN_FUZZ_' || true`)
	require.NoError(t, err, out)
	require.Equal(t, "0\n", out, "nothing of the prebuild is in the environment")
	out, err = b.step(false, "fuzz_prebuild; KILN_FUZZTIME=5000x fuzz_all")
	require.Error(t, err, out)
	require.Contains(t, out, "ok scratch/fuzz FuzzRenamedTarget")
	require.Contains(t, out, "FAIL scratch/fuzz FuzzFindsABug")
	require.Contains(t, out, "too long:", "the fuzzer's output is shown")
	require.Contains(t, out, "fuzzed 2 targets, 1 failed")
	require.Regexp(t, `waited \d+s for the binaries built beside the tests, built \d+s more`, out,
		"the step says where its time went before fuzzing")
}

// The plain test step runs the packages the race step does not name, so each package's tests
// run once, and a package added later is tested by one of the two.
func TestScriptSplitsThePackagesBetweenTheSteps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, os.RemoveAll(filepath.Join(b.dir, "broken")))
	all, err := b.step(false, "go list ./...")
	require.NoError(t, err, all)
	out, err := b.step(false, "packages_except ./fails/... ./skips")
	require.NoError(t, err, out)
	var want []string
	for _, p := range strings.Fields(all) {
		if p != "scratch/fails" && p != "scratch/skips" {
			want = append(want, p)
		}
	}
	require.NotEmpty(t, want)
	require.Equal(t, strings.Join(want, "\n")+"\n", out)
	for _, stale := range []string{"./nothing/here", "./nothing/..."} {
		out, err = b.step(false, "packages_except ./fails "+stale)
		require.Error(t, err, "a pattern that matches nothing is a mistake in the list:\n%s", out)
		require.Contains(t, out, stale+" matches no package")
	}
}

// A fuzz run that failed only because Go's coordinator raced its own -fuzztime deadline
// (golang/go#75804) is recognised and run again; a real finding never is.
func TestScriptTellsTheFuzzDeadlineRaceFromAFinding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	race := "fuzz: elapsed: 8s, execs: 250741 (58747/sec), new interesting: 29 (total: 114)\n--- FAIL: FuzzRescale (8.10s)\n    context deadline exceeded\nFAIL\nexit status 1\n"
	finding := "--- FAIL: FuzzFindsABug (0.01s)\n    --- FAIL: FuzzFindsABug (0.00s)\n        fuzz_test.go:9: too long: \"aaa\"\n    Failing input written to testdata/fuzz/FuzzFindsABug/1\n    context deadline exceeded\n"
	panicked := "panic: kaboom\n--- FAIL: FuzzX (1.00s)\n    context deadline exceeded\n"
	for name, log := range map[string]string{"race": race, "finding": finding, "panic": panicked} {
		require.NoError(t, os.WriteFile(filepath.Join(b.dir, name+".log"), []byte(log), 0o644))
	}
	out, err := b.step(false, "fuzz_deadline_race race.log")
	require.NoError(t, err, out)
	for _, name := range []string{"finding", "panic"} {
		out, err = b.step(false, "fuzz_deadline_race "+name+".log")
		require.Error(t, err, "%s is a finding: %s", name, out)
	}
}

// .ci/run is test.sh with services (and so no skips) required, and test.sh fails on what
// these steps report: it runs them under set -e, keeping the status to the end.
func TestCIRunsTheseSteps(t *testing.T) {
	t.Parallel()
	ci, err := os.ReadFile("../../.ci/run")
	require.NoError(t, err)
	require.Contains(t, string(ci), "export KILN_REQUIRE_SERVICES=1\n./scripts/test.sh")
	script, err := os.ReadFile("../test.sh")
	require.NoError(t, err)
	for _, line := range []string{"set -euo pipefail", "source scripts/lib.sh", "plain=$(packages_except \"${RACE[@]}\")",
		"run_tests $plain || status=$?", `run_tests -race "${RACE[@]}" || status=$?`,
		"KILN_FUZZTIME=$FUZZTIME fuzz_all || status=$?", `exit "$status"`} {
		require.Contains(t, string(script), line)
	}
	require.NotContains(t, string(script), "fuzz ./internal", "no hand-kept list of fuzz targets")
}
