package derive

import (
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/kiln-dev/kiln/internal/spec"
)

// A rule on update may keep a field unchanged (record.job == old.job): an update case that
// changes the field to make another clash (a unique value taken) is refused by the rule first.

// frozenOnUpdate names, by field, the rule on update that keeps the field unchanged
// (record.f == old.f): an update changing it is refused by the rule, whatever else it clashes
// with.
func frozenOnUpdate(r *spec.Resource) map[string]*spec.LogicRule {
	out := map[string]*spec.LogicRule{}
	for _, rl := range r.Rules {
		if !spec.Applies(rl.On, spec.OpUpdate) {
			continue
		}
		for _, name := range frozenFields(rl.Check.Text) {
			if out[name] == nil {
				out[name] = rl
			}
		}
	}
	return out
}

// frozenOf is the first of fields that frozen names, with its rule.
func frozenOf(frozen map[string]*spec.LogicRule, fields []string) (*spec.LogicRule, string) {
	for _, name := range fields {
		if rl := frozen[name]; rl != nil {
			return rl, name
		}
	}
	return nil, ""
}

// frozenFields lists the fields check compares with their old value (record.f == old.f,
// either way round, new for record) in a conjunct of its top level, so that it fails whenever a
// write changes them. None when the text does not parse.
func frozenFields(check string) []string {
	var out []string
	for _, c := range conjuncts(parseAssert(check)) {
		if c.Kind() != celast.CallKind || c.AsCall().FunctionName() != operators.Equals || len(c.AsCall().Args()) != 2 {
			continue
		}
		a, b := c.AsCall().Args()[0], c.AsCall().Args()[1]
		if f := sameOld(a, b); f != "" {
			out = append(out, f)
		} else if f := sameOld(b, a); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// sameOld is f when a is record.f (or new.f) and b is old.f.
func sameOld(a, b celast.Expr) string {
	fa, va := selected(a)
	fb, vb := selected(b)
	if fa != "" && fa == fb && (va == "record" || va == "new") && vb == "old" {
		return fa
	}
	return ""
}

// selected is the field and variable of e when e is variable.field.
func selected(e celast.Expr) (string, string) {
	if e.Kind() != celast.SelectKind || e.AsSelect().IsTestOnly() {
		return "", ""
	}
	op := e.AsSelect().Operand()
	if op.Kind() != celast.IdentKind {
		return "", ""
	}
	return e.AsSelect().FieldName(), op.AsIdent()
}
