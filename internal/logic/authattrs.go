package logic

import (
	"fmt"
	"slices"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

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
		name, at, ok := authRead(e)
		if !ok || slices.Contains(authAttrs, name) {
			return
		}
		err = fmt.Errorf("%sauth.%s is not an auth attribute (id, role, roles, key)", expr.At(ast, at), name)
	}))
	return err
}

// authRead reads auth.<name> or auth['<name>'], and where the name is written.
func authRead(e celast.Expr) (string, int64, bool) {
	switch e.Kind() {
	case celast.SelectKind:
		op := e.AsSelect().Operand()
		return e.AsSelect().FieldName(), e.ID(), op.Kind() == celast.IdentKind && op.AsIdent() == varAuth
	case celast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != operators.Index || len(c.Args()) != 2 {
			return "", 0, false
		}
		op, key := c.Args()[0], c.Args()[1]
		if op.Kind() != celast.IdentKind || op.AsIdent() != varAuth || key.Kind() != celast.LiteralKind {
			return "", 0, false
		}
		s, ok := key.AsLiteral().Value().(string)
		return s, key.ID(), ok
	}
	return "", 0, false
}
