package logic

import (
	"fmt"
	"slices"

	celast "cel.dev/cel-go/common/ast"

	"github.com/kiln-dev/kiln/internal/expr"
)

// authAttrs are what auth holds (Vars.activation): the caller's account, role, roles and API key.
var authAttrs = []string{"id", "role", "roles", "key"}

// checkAuthAttrs refuses a read of auth that is none of its attributes (auth.rol, auth['idd']):
// auth is a map to CEL, so the checker lets any name through, and the typo failed every write
// the expression decided, as an access rule's does not (it is refused at load).
func checkAuthAttrs(ast *celast.AST) error {
	var err error
	celast.PreOrderVisit(ast.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if err != nil {
			return
		}
		name, at, ok := expr.AuthRead(e)
		if !ok || slices.Contains(authAttrs, name) {
			return
		}
		err = fmt.Errorf("%sauth.%s is not an auth attribute (id, role, roles, key)", expr.At(ast, at), name)
	}))
	return err
}
