package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/testdb"
)

func TestKilnTestRunsTheSeedFileVerbatim(t *testing.T) {
	seed, err := os.ReadFile("../../examples/shop/tests/products.test.yaml")
	require.NoError(t, err)
	shared, err := os.ReadFile("../../../shared/seed-example/products.test.yaml")
	if err == nil {
		require.Equal(t, string(shared), string(seed), "the shop's copy of the seed example is verbatim")
	}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRoot(&output{out: io.Discard, err: io.Discard})
		root.SetArgs([]string{"serve", "--spec", spec, "--data-dir", data, "--addr", addr})
		done <- root.ExecuteContext(ctx)
	}()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)

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
		require.Contains(t, gen, "wrote 35 test files")
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
