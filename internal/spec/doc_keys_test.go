package spec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// acceptedKeys collects, from this package's source, every key the parser accepts: the
// string literals of the package-level xxxKeys lists and the literal keys passed to
// walker.mapping. A key added either way without documentation fails the test below.
func acceptedKeys(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	keys := map[string]string{} // key → where it is accepted
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.ValueSpec:
				for i, id := range x.Names {
					if strings.HasSuffix(id.Name, "Keys") && i < len(x.Values) {
						addLiterals(keys, id.Name, x.Values[i])
					}
				}
			case *ast.CallExpr:
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "mapping" && len(x.Args) > 2 {
					for _, a := range x.Args[2:] {
						addLiterals(keys, describe(x.Args[1]), a)
					}
				}
			}
			return true
		})
	}
	return keys
}

func addLiterals(keys map[string]string, where string, n ast.Node) {
	ast.Inspect(n, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				keys[s] = where
			}
		}
		return true
	})
}

func describe(e ast.Expr) string {
	if lit, ok := e.(*ast.BasicLit); ok {
		return lit.Value
	}
	return "a mapping"
}

func TestEveryAcceptedKeyIsDocumented(t *testing.T) {
	t.Parallel()
	keys := acceptedKeys(t)
	for _, k := range []string{"idempotency_ttl", "batch_max", "rate_limits", "trusted_proxies", "tls", "hsts_max_age",
		"violated_by", "each", "assert", "roles", "cert_file", "probe_interval"} {
		require.Contains(t, keys, k, "the scan finds the keys the parser accepts")
	}
	raw, err := os.ReadFile("../../docs/spec.md")
	require.NoError(t, err)
	doc := string(raw)
	var missing []string
	for k, where := range keys {
		// Documented: in backticks (`key`, `key: …`, `server.key`), or as a key in a YAML example.
		re := regexp.MustCompile("[`.]" + regexp.QuoteMeta(k) + "[`:.]|(?m)^\\s*(- )?\\{?" + regexp.QuoteMeta(k) + ":")
		if !re.MatchString(doc) {
			missing = append(missing, k+" (accepted in "+where+")")
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "keys the spec parser accepts that docs/spec.md does not document")
}
