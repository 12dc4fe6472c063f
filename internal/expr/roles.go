package expr

import (
	"fmt"
	"slices"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/kiln-dev/kiln/internal/spec"
)

// CheckRoleTexts refuses a text an expression compares the principal's role with that is none
// of the spec's roles — auth.role == 'admn', auth.role in ['agent', 'admn'], 'admn' in
// auth.roles: such a comparison holds for nobody, and an access rule written so locks a role
// out without a word (a trial found it), as an enum field compared with a text none of its
// values is refused. A spec without roles has nothing to compare with.
func CheckRoleTexts(ast *celast.AST, s *spec.Spec) error {
	if len(s.Roles) == 0 {
		return nil
	}
	var err error
	check := func(lit celast.Expr) {
		if err == nil {
			err = roleText(ast, s, lit)
		}
	}
	celast.PostOrderVisit(ast.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if err != nil || e.Kind() != celast.CallKind || len(e.AsCall().Args()) != 2 {
			return
		}
		a, b := e.AsCall().Args()[0], e.AsCall().Args()[1]
		switch e.AsCall().FunctionName() {
		case operators.Equals, operators.NotEquals:
			if readsAuth(a, "role") {
				check(b)
			}
			if readsAuth(b, "role") {
				check(a)
			}
		case operators.In:
			if readsAuth(a, "role") && b.Kind() == celast.ListKind {
				for _, el := range b.AsList().Elements() {
					check(el)
				}
			}
			if readsAuth(b, "roles") {
				check(a)
			}
		}
	}))
	return err
}

// readsAuth reports whether e reads auth.<name> (or auth['<name>']).
func readsAuth(e celast.Expr, name string) bool {
	read, _, ok := AuthRead(e)
	return ok && read == name
}

// AuthRead reads auth.<name> or auth['<name>'], and where the name is written (for At).
func AuthRead(e celast.Expr) (string, int64, bool) {
	switch e.Kind() {
	case celast.SelectKind:
		op := e.AsSelect().Operand()
		return e.AsSelect().FieldName(), e.ID(), op.Kind() == celast.IdentKind && op.AsIdent() == "auth"
	case celast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != operators.Index || len(c.Args()) != 2 {
			return "", 0, false
		}
		op, key := c.Args()[0], c.Args()[1]
		if op.Kind() != celast.IdentKind || op.AsIdent() != "auth" || key.Kind() != celast.LiteralKind {
			return "", 0, false
		}
		s, ok := key.AsLiteral().Value().(string)
		return s, key.ID(), ok
	}
	return "", 0, false
}

// roleText refuses lit when it is a text that is not one of the spec's roles.
func roleText(ast *celast.AST, s *spec.Spec, lit celast.Expr) error {
	if lit.Kind() != celast.LiteralKind {
		return nil
	}
	role, ok := lit.AsLiteral().Value().(string)
	if !ok || slices.Contains(s.Roles, role) {
		return nil
	}
	return fmt.Errorf("%s%s", At(ast, lit.ID()), s.NotARole(role))
}

// At is where node id stands in the expression, for an error: "at 1:14: ", or "" when unknown.
func At(ast *celast.AST, id int64) string {
	if loc := ast.SourceInfo().GetStartLocation(id); loc.Line() > 0 {
		return fmt.Sprintf("at %d:%d: ", loc.Line(), loc.Column()+1)
	}
	return ""
}
