package derive_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mutation breaks code that the server and, once, the derived suite's expectations shared.
type mutation struct {
	claim    string            // what the suite no longer shares with the server
	file     string            // relative to the module root
	edits    map[string]string // exact text (found once) → its replacement
	fails    string            // the case that must fail, "file/case"
	message  string            // part of its failure
	stillRun string            // a case the mutation leaves passing, so the failure is the mutation's
}

var mutations = []mutation{
	{claim: "sorts are read by the suite, not by service.ParseList", file: "internal/service/params.go",
		edits:    map[string]string{`desc := strings.HasPrefix(part, "-")`: `desc := false && strings.HasPrefix(part, "-")`},
		fails:    "products.list.test.yaml/sort_by_price_descending",
		message:  "the order differs from the sort evaluated in memory",
		stillRun: "products.list.test.yaml/sort_by_price"},
	{claim: "field=value shorthands are read by the suite, not by service.ParseList", file: "internal/service/params.go",
		edits:    map[string]string{`Op: query.Eq, Value: val}, "", ""`: `Op: query.Ne, Value: val}, "", ""`},
		fails:    "orders.list.test.yaml/shorthand_status",
		message:  "listed row(s) the query does not select",
		stillRun: "orders.list.test.yaml/filter_not_on_status"},
	{claim: "stored values are read by raw SQL, not through Service.Get and the store's decoding", file: "internal/store/dialect_sqlite.go",
		edits: map[string]string{"return x.Units\n": "return x.Units + 1\n",
			"return value.FromUnits(t.Int64, scale), nil": "return value.FromUnits(t.Int64-1, scale), nil"},
		fails:    "products.create.test.yaml/create_valid",
		message:  "price stored as 2: products.price is stored as 2.01",
		stillRun: "products.list.test.yaml/sort_by_price"},
	{claim: "row rules are read from their CEL (Rule.Holds), not from Rule.Condition's translation", file: "internal/expr/rule.go",
		edits: map[string]string{"return left.wrap(query.Compare{Field: left.field, Op: op, Value: v}), nil": "if left.field == \"id\" {\n\t\treturn query.Not{Cond: query.Compare{Field: left.field, Op: op, Value: v}}, nil\n\t}\n\treturn left.wrap(query.Compare{Field: left.field, Op: op, Value: v}), nil"},
		fails: "users.list.test.yaml/all_pages_as_customer", message: "listed row(s) the query does not select",
		stillRun: "users.list.test.yaml/all_pages"},
	{claim: "which roles a rule lets through is decided from its CEL (Rule.Decide), not from Rule.Condition", file: "internal/expr/rule.go",
		edits:    map[string]string{"return boolCond(slices.ContainsFunc(right.list,": "return boolCond(true || slices.ContainsFunc(right.list,"},
		fails:    "orders.view.test.yaml/other_accounts_record_as_customer",
		message:  "status: expected 404, got 200",
		stillRun: "orders.view.test.yaml/view"},
}

// Each claim that the derived suite computes its expectations independently of the server
// is held to a scratch build: Kiln compiled with the shared code broken (go test -overlay,
// the sources untouched), the shop's derived suite run on it. Had the suite read the sort,
// the shorthand, the stored value or the rule with the server's code, it would agree with
// the broken server and pass; it must fail the named case. All mutations go into one build
// (one compile); each is checked by a case only it breaks, with a case it leaves passing.
func TestDerivedSuiteFailsAScratchBuildWithBrokenSharedCode(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	overlay := map[string]string{}
	mutated := map[string]string{}
	for _, m := range mutations {
		path := filepath.Join(root, m.file)
		src, ok := mutated[path]
		if !ok {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			src = string(raw)
		}
		for from, to := range m.edits {
			require.Equal(t, 1, strings.Count(src, from), "%s: %q must occur once", m.file, from)
			src = strings.Replace(src, from, to, 1)
		}
		mutated[path] = src
	}
	dir := t.TempDir()
	for path, src := range mutated {
		copyPath := filepath.Join(dir, filepath.Base(path))
		require.NoError(t, os.WriteFile(copyPath, []byte(src), 0o644))
		overlay[path] = copyPath
	}
	results := runScratch(t, root, overlay)
	for _, m := range mutations {
		got, ok := results[m.fails]
		require.True(t, ok, "the scratch run has no case %s", m.fails)
		require.False(t, got.passed, "%s: with the server's code broken, %s still passed", m.claim, m.fails)
		require.Contains(t, got.output, m.message, "%s: %s", m.claim, m.fails)
		require.True(t, results[m.stillRun].passed, "%s: %s should pass in the scratch build:\n%s", m.claim, m.stillRun, results[m.stillRun].output)
	}
}

type caseResult struct {
	passed bool
	output string
}

// runScratch runs the shop's Go harness (its YAML files and derived suite, on SQLite) in a
// build with overlay's files in place of the originals; results are keyed "file/case".
func runScratch(t *testing.T, root string, overlay map[string]string) map[string]caseResult {
	raw, err := json.Marshal(map[string]any{"Replace": overlay})
	require.NoError(t, err)
	overlayPath := filepath.Join(t.TempDir(), "overlay.json")
	require.NoError(t, os.WriteFile(overlayPath, raw, 0o644))
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the scratch build needs the go command")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "test", "-count=1", "-json", "-overlay", overlayPath,
		"-run", "^TestShopThroughTheGoHarness$/^sqlite$", "./kilntest/")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KILN_DATABASE_URL=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.Error(t, err, "the scratch build passed its own harness")
	const prefix = "TestShopThroughTheGoHarness/sqlite/"
	results := map[string]caseResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil || !strings.HasPrefix(ev.Test, prefix) {
			continue
		}
		key := strings.TrimPrefix(ev.Test, prefix)
		r := results[key]
		r.output += ev.Output
		if ev.Action == "pass" || ev.Action == "fail" {
			r.passed = ev.Action == "pass"
		}
		results[key] = r
	}
	require.NotEmpty(t, results, "the scratch build ran no cases:\n%s\n%s", stderr.String(), tail(out))
	return results
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
