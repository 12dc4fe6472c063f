package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// seedSHA256 is the SHA-256 of the seed example as it was handed over
// (shared/seed-example/products.test.yaml): the shop's copy must stay byte for byte the same,
// wherever the repository is cloned.
const seedSHA256 = "d9088f767d38b7513dbd730e7ba2f2c5706b0528feaebf526c9addd6b805d993"

func TestKilnTestRunsTheSeedFileVerbatim(t *testing.T) {
	seed, err := os.ReadFile("../../examples/shop/tests/products.test.yaml")
	require.NoError(t, err)
	t.Run("CopyIsVerbatim", func(t *testing.T) {
		sum := sha256.Sum256(seed)
		require.Equal(t, seedSHA256, hex.EncodeToString(sum[:]), "the shop's copy of the seed example is verbatim")
	})
	testdb.EachDialectEnv(t, func(t *testing.T) {
		dir := t.TempDir()
		junit, js := filepath.Join(dir, "r.xml"), filepath.Join(dir, "r.json")
		out, err := run(t, "test", "--spec", "../../examples/shop/kiln.yaml", "--junit", junit, "--json", js,
			"../../examples/shop/tests/products.test.yaml")
		require.NoError(t, err, out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Equal(t, "3 passed, 0 failed", lines[len(lines)-1])
		require.Contains(t, out, "POST /api/products")

		raw, err := os.ReadFile(junit)
		require.NoError(t, err)
		var suites struct {
			Suites []struct {
				Tests int `xml:"tests,attr"`
			} `xml:"testsuite"`
		}
		require.NoError(t, xml.Unmarshal(raw, &suites), "JUnit output is valid XML")
		require.Equal(t, 3, suites.Suites[0].Tests)
		var summary map[string]any
		raw, err = os.ReadFile(js)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &summary))
		require.Equal(t, float64(3), summary["passed"])

		out, err = run(t, "test", "--spec", "../../examples/shop/kiln.yaml") // every file in tests/
		require.NoError(t, err, out)
		require.Regexp(t, `\d+ passed, 0 failed$`, strings.TrimSpace(out))
	})
}

func TestKilnTestPointsAtABrokenConstraint(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	dir := t.TempDir()
	src, err := os.ReadFile("../../examples/shop/kiln.yaml")
	require.NoError(t, err)
	broken := strings.Replace(string(src), "required: true, min: 0}\n      sku", "required: true}\n      sku", 1)
	require.NotEqual(t, string(src), broken)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kiln.yaml"), []byte(broken), 0o644))
	copyShopMails(t, dir)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "tests"), 0o755))
	seed, _ := os.ReadFile("../../examples/shop/tests/products.test.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tests", "products.test.yaml"), seed, 0o644))

	out, err := run(t, "test", "--spec", filepath.Join(dir, "kiln.yaml"))
	require.ErrorIs(t, err, errTestsFailed)
	require.Contains(t, out, "2_validation_error")
	require.Contains(t, out, "no constraint on price rejected it")
	require.True(t, strings.HasSuffix(strings.TrimSpace(out), "2 passed, 1 failed"))
}

func TestKilnTestAgainstARunningServer(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	t.Setenv("KILN_AUTH_SECRET", "a-shared-secret-for-this-test-0123456789")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	spec := "../../examples/shop/kiln.yaml"
	for _, args := range [][]string{{"migrate", "up"}, {"seed"}} {
		out, err := run(t, append(args, "--spec", spec, "--data-dir", data)...)
		require.NoError(t, err, out)
	}
	addr := serveInBackground(t, "--spec", spec, "--data-dir", data)
	res, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	out, err := run(t, "test", "--spec", spec, "--data-dir", data, "--url", "http://"+addr)
	require.NoError(t, err, out)
	require.Regexp(t, `\d+ passed, 0 failed$`, strings.TrimSpace(out))
}

func TestKilnTestDerivedSuite(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		spec := "../../examples/shop/kiln.yaml"
		out, err := run(t, "test", "--derived", "--spec", spec)
		require.NoError(t, err, out)
		last := lastLine(out)
		require.Regexp(t, `^\d{3,} passed, 0 failed$`, last)
		for _, res := range []string{"users", "categories", "tags", "products", "customers", "orders", "order_items"} {
			for _, action := range []string{"list", "view", "create", "update", "delete"} {
				require.Contains(t, out, "derived/"+res+"."+action+".test.yaml", "every resource × action runs")
			}
		}

		dir := t.TempDir()
		gen, err := run(t, "test", "--generate", "--spec", spec, "--out", dir)
		require.NoError(t, err, gen)
		require.Contains(t, gen, "wrote 36 test files")
		edited := filepath.Join(dir, "tags.create.test.yaml")
		original, err := os.ReadFile(edited)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(edited, append(original, []byte("# my note\n")...), 0o644))
		gen, err = run(t, "test", "--generate", "--spec", spec, "--out", dir)
		require.NoError(t, err, gen)
		require.Contains(t, gen, "wrote 0 test files")
		require.Contains(t, gen, "kept 1 files that differ")
		require.Contains(t, gen, "tags.create.test.yaml")
		kept, _ := os.ReadFile(edited)
		require.Contains(t, string(kept), "# my note", "an edited file is kept")
		gen, err = run(t, "test", "--generate", "--force", "--spec", spec, "--out", dir)
		require.NoError(t, err, gen)
		require.Contains(t, gen, "wrote 1 test files")
		replaced, _ := os.ReadFile(edited)
		require.Equal(t, string(original), string(replaced))
		out, err = run(t, "test", "--spec", spec, dir)
		require.NoError(t, err, out)
		require.Equal(t, last, lastLine(out), "the written files run as the derived suite does")
	})
}

func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// serveInBackground runs `kiln serve --addr 127.0.0.1:0` until the test ends and returns the
// address it bound, read from the line it prints once it listens: the port is the one the
// system gave the server, not one picked here, released and hoped to be free still.
func serveInBackground(t *testing.T, args ...string) string {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRoot(&output{out: pw, err: pw})
		root.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
		err := root.ExecuteContext(ctx)
		_ = pw.CloseWithError(fmt.Errorf("serve returned: %v", err))
		done <- err
	}()
	t.Cleanup(func() { cancel(); <-done })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			err := <-done
			done <- err // for the cleanup
			t.Fatalf("serve ended before listening: %v", err)
		}
		return a
	case <-time.After(time.Minute):
		t.Fatal("serve did not say where it listens within a minute")
	}
	return ""
}

var servingRe = regexp.MustCompile(`serving \S+ on http://(127\.0\.0\.1:[0-9]+) `)

// --generate reads back every file before it writes any: a broken file is an error and
// nothing is written (it used to write a file with a duplicate key and say ✓).
func TestGenerateRefusesAFileItCannotReadBack(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	suite := &derive.Suite{Files: []derive.File{
		{Name: "good.test.yaml", Data: []byte("endpoint: GET /api/tags\ntest_cases:\n  list:\n    expected:\n      status: 200\n")},
		{Name: "bad.test.yaml", Data: []byte("endpoint: GET /api/tags\ntest_cases:\n  a:\n    expected: {status: 200}\n  a:\n    expected: {status: 200}\n")},
	}}
	err := writeDerived(&output{out: &out, err: &out}, suite, dir, false)
	require.ErrorContains(t, err, "nothing written")
	require.ErrorContains(t, err, "bad.test.yaml")
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries)
	require.NotContains(t, out.String(), "✓")
}

// kiln test in a fresh kiln init project runs the test init wrote; without a tests/ folder,
// or with no YAML in it, it fails saying there are no tests yet and how to get some (it
// failed with "stat tests: no such file or directory").
func TestKilnTestInAnInitProject(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	dir := t.TempDir()
	out, err := run(t, "init", dir)
	require.NoError(t, err, out)
	specPath := filepath.Join(dir, "kiln.yaml")
	out, err = run(t, "test", "--spec", specPath)
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "2 passed, 0 failed", lines[len(lines)-1])

	tests := filepath.Join(dir, "tests")
	require.NoError(t, os.Remove(filepath.Join(tests, "notes.yaml")))
	_, err = run(t, "test", "--spec", specPath)
	require.ErrorContains(t, err, "no tests yet: no *.yaml file under "+tests)
	require.NoError(t, os.Remove(tests))
	_, err = run(t, "test", "--spec", specPath)
	require.ErrorContains(t, err, "no tests yet: no tests/ folder beside the spec ("+tests+")")
	require.ErrorContains(t, err, "Write YAML test cases under tests/ (docs/testing.md), or run kiln test --derived")
	require.NotContains(t, err.Error(), "stat ")
}
