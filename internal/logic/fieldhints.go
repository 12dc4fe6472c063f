package logic

import (
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"

	"github.com/kiln-dev/kiln/internal/spec"
)

// hintFields adds to each of CEL's "undefined field 'candidat'" issues about a field selected
// from a variable holding a record (record, old, new, item, target), an action's input or a
// related record (get('jobs', id).titl, record.job.titl) the field of its type it looks like a
// typo of: ` (did you mean "candidate"?)`. parsed is the expression that was checked, whose
// ids the issues name.
func (e *envs) hintFields(sc scope, parsed *cel.Ast, iss *cel.Issues) {
	selects := map[int64]celast.SelectExpr{}
	celast.PostOrderVisit(parsed.NativeRep().Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() == celast.SelectKind {
			selects[x.ID()] = x.AsSelect()
		}
	}))
	for _, issue := range iss.Errors() {
		sel, ok := selects[issue.ExprID]
		if !ok || !strings.HasPrefix(issue.Message, "undefined field '") {
			continue
		}
		if o := e.objects[sc.typeOfOperand(sel.Operand())]; o != nil {
			issue.Message += spec.DidYouMean(sel.FieldName(), o.names)
		}
	}
}

// typeOfOperand names the object type of a selection's operand: a variable of sc or a get()
// (which the get macro and followRelations make a call of __kiln_get_<resource>), or "".
func (sc scope) typeOfOperand(op celast.Expr) string {
	switch op.Kind() {
	case celast.IdentKind:
		return sc.typeOf(op.AsIdent())
	case celast.CallKind:
		if res, ok := strings.CutPrefix(op.AsCall().FunctionName(), siteFunction(siteGet, "", "")); ok {
			return typePrefix + res
		}
	}
	return ""
}

// typeOf names the object type of variable name in sc, or "" when it holds no record or input.
func (sc scope) typeOf(name string) string {
	switch {
	case sc.resource != "" && (name == varRecord || name == varOld || (name == varNew && sc.trigger)):
		return typePrefix + sc.resource
	case name == varItem && sc.item != "":
		return typePrefix + sc.item
	case name == varTarget && sc.target != "":
		return typePrefix + sc.target
	case name == varInput && sc.input != "":
		return inputType(sc.resource, sc.input)
	}
	return ""
}
