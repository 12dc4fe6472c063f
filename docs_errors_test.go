package kiln_test

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

// codeSources are the packages on the request path: every error code a client can receive is
// written in one of them.
var codeSources = []string{".", "internal/service", "internal/api/rest", "internal/auth", "internal/strictjson",
	"internal/value", "internal/server", "internal/idempotency", "internal/ratelimit", "internal/logic", "internal/revocation"}

// notEmitted are codes the scan finds that never reach a client as a code.
var notEmitted = map[string]string{
	"syntax": "strictjson's syntax errors are reported in the message of malformed_request, without a field",
}

// emittedCodes collects error codes from the source: constants named Code… or text-problem
// constants, `Code: "…"` in Error and FieldError literals, the code argument of
// fieldErrors.add, and the (code, message) pairs the value coercions return.
func emittedCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{} // code → where it was found
	fset := token.NewFileSet()
	for _, dir := range codeSources {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			require.NoError(t, err)
			ast.Inspect(f, func(n ast.Node) bool {
				for _, lit := range codeLiterals(n) {
					if s, err := strconv.Unquote(lit.Value); err == nil && s != "" {
						codes[s] = fset.Position(lit.Pos()).String()
					}
				}
				return true
			})
		}
	}
	return codes
}

func codeLiterals(n ast.Node) []*ast.BasicLit {
	str := func(e ast.Expr) *ast.BasicLit {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			return lit
		}
		return nil
	}
	var out []*ast.BasicLit
	switch x := n.(type) {
	case *ast.ValueSpec: // const CodeX Code = "…", TextNUL = "…"
		for i, id := range x.Names {
			if i < len(x.Values) && (strings.HasPrefix(id.Name, "Code") || strings.HasPrefix(id.Name, "Text")) {
				out = append(out, str(x.Values[i]))
			}
		}
	case *ast.KeyValueExpr: // Error{Code: "…"}, FieldError{Code: "…"}
		if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Code" {
			out = append(out, str(x.Value))
		}
	case *ast.CallExpr: // errs.add(field, "code", format, …), bad(field, "code", msg)
		if name := callee(x); (name == "add" || name == "bad") && len(x.Args) >= 3 {
			out = append(out, str(x.Args[1]))
		}
	case *ast.AssignStmt: // code = "rule"
		for i, l := range x.Lhs {
			if id, ok := l.(*ast.Ident); ok && strings.EqualFold(id.Name, "code") && i < len(x.Rhs) {
				out = append(out, str(x.Rhs[i]))
			}
		}
	case *ast.ReturnStmt: // return nil, "type", "must be a number"; return "min", "must be >= " + min
		if n := len(x.Results); n >= 2 && n <= 3 && isText(x.Results[n-1]) {
			if lit := str(x.Results[n-2]); lit != nil && codeShape.MatchString(lit.Value) {
				out = append(out, lit)
			}
		}
	}
	var lits []*ast.BasicLit
	for _, l := range out {
		if l != nil {
			lits = append(lits, l)
		}
	}
	return lits
}

func callee(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// codeShape is a quoted snake_case code.
var codeShape = regexp.MustCompile(`^"[a-z][a-z0-9_]*"$`)

// isText reports whether e is a message: a string literal or a concatenation starting with one.
func isText(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return x.Kind == token.STRING
	case *ast.BinaryExpr:
		return x.Op == token.ADD && isText(x.X)
	}
	return false
}

func TestEveryErrorCodeIsDocumented(t *testing.T) {
	t.Parallel()
	codes := emittedCodes(t)
	for _, c := range []string{"validation_failed", "unauthorized", "rate_limited", "unavailable", "not_allowed", "unique",
		"not_filterable", "too_costly", "idempotency_key_reused", "type", "nul_character", "min", "rule", "invalid_scope", "max_items"} {
		require.Contains(t, codes, c, "the scan finds the codes the server emits")
	}
	raw, err := os.ReadFile("docs/api.md")
	require.NoError(t, err)
	doc := string(raw)
	var missing []string
	for c, where := range codes {
		if _, ok := notEmitted[c]; !ok && !strings.Contains(doc, "`"+c+"`") {
			missing = append(missing, c+" ("+where+")")
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "error codes the server emits that docs/api.md does not list")
}
