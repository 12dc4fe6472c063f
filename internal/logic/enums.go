package logic

import (
	"fmt"
	"slices"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
)

// An enum field compared with a text that is none of its values is a typo the checker cannot
// see (an enum is text to CEL): record.status != 'confirmd' always holds, and a rule reading so
// is switched off without a word. checkEnumTexts refuses such a comparison — ==, != or in,
// with a field of any record the expression reads (record, old, new, item, target, one a
// relation leads to) or of the resource a cross-record filter reads — as a list filter refuses
// ?status=bogus.

// enumOf names the enum field e reads, if it reads one.
type enumOf func(e celast.Expr) *spec.Field

// checkEnumTexts walks ast for comparisons of an enum field (enum) with a text constant
// outside its values.
func checkEnumTexts(ast *celast.AST, enum enumOf) error {
	var err error
	celast.PostOrderVisit(ast.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if err != nil || e.Kind() != celast.CallKind || len(e.AsCall().Args()) != 2 {
			return
		}
		a, b := e.AsCall().Args()[0], e.AsCall().Args()[1]
		switch e.AsCall().FunctionName() {
		case operators.Equals, operators.NotEquals:
			if err = enumText(ast, enum(a), b); err == nil {
				err = enumText(ast, enum(b), a)
			}
		case operators.In:
			if f := enum(a); f != nil && b.Kind() == celast.ListKind {
				for _, el := range b.AsList().Elements() {
					if err = enumText(ast, f, el); err != nil {
						return
					}
				}
			}
		}
	}))
	return err
}

// enumText refuses lit when f is an enum and lit a text that is not one of its values.
func enumText(ast *celast.AST, f *spec.Field, lit celast.Expr) error {
	if f == nil || lit.Kind() != celast.LiteralKind {
		return nil
	}
	s, ok := lit.AsLiteral().Value().(string)
	if !ok || slices.Contains(f.Values, s) {
		return nil
	}
	return fmt.Errorf("%s%s is never %q: its values are %s", expr.At(ast, lit.ID()), f.Name, s, strings.Join(f.Values, ", "))
}

// scopeEnums reads the enum fields of the records an expression in sc sees: a field selected
// from any record (record, old, new, item, target, or one a relation led to), by its type.
func (e *envs) scopeEnums(ast *celast.AST) enumOf {
	return func(x celast.Expr) *spec.Field {
		if x.Kind() != celast.SelectKind {
			return nil
		}
		t := ast.GetType(x.AsSelect().Operand().ID())
		if t == nil || t.Kind() != types.StructKind || !strings.HasPrefix(t.TypeName(), typePrefix) {
			return nil
		}
		name := strings.TrimPrefix(t.TypeName(), typePrefix)
		if res, action, ok := strings.Cut(strings.TrimSuffix(name, ".input"), "."); ok && strings.HasSuffix(name, ".input") {
			return e.inputEnum(res, action, x.AsSelect().FieldName()) // an action's input (inputType)
		}
		return enumField(e.spec.Resource(name), x.AsSelect().FieldName())
	}
}

// inputEnum is the enum input field of resource's action, if it is one.
func (e *envs) inputEnum(resource, action, field string) *spec.Field {
	r := e.spec.Resource(resource)
	if r == nil {
		return nil
	}
	if a := r.RecordAction(action); a != nil {
		return enumField(a.InputResource(resource), field)
	}
	return nil
}

// filterEnums reads the enum fields of target, named alone in a cross-record filter, and of
// the records the expression around it sees.
func (e *envs) filterEnums(ast *celast.AST, target *spec.Resource) enumOf {
	outer := e.scopeEnums(ast)
	return func(x celast.Expr) *spec.Field {
		if x.Kind() == celast.IdentKind {
			return enumField(target, x.AsIdent())
		}
		return outer(x)
	}
}

func enumField(r *spec.Resource, name string) *spec.Field {
	if r == nil {
		return nil
	}
	if f := r.Field(name); f != nil && f.Type == spec.TypeEnum {
		return f
	}
	return nil
}
