package derive

import (
	"slices"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Polarities of a has() test in a rule: whether its being true helps the rule hold (it is
// not under a !), or its being false does.
const (
	helpsWhenTrue = 1 << iota
	helpsWhenFalse
)

// absentToBreak lists the fields of r that rl tests with has(record.<field>) only where a
// present value helps the rule hold (`record.priority != 'urgent' || has(record.reason)`):
// optional fields, without a default, that a client writes and violated_by does not name. A
// body that sends them satisfies that part of the rule, so the case that breaks the rule
// must leave them out (create) or clear them (update).
func absentToBreak(r *spec.Resource, rl *spec.LogicRule) []string {
	tested := map[string]int{}
	hasTests(parseAssert(rl.Check.Text), helpsWhenTrue, tested)
	var out []string
	for _, f := range r.Fields {
		if tested[f.Name] != helpsWhenTrue || f.Required || f.HasDefault || f.DefaultExpr.Set() || f.Compute.Set() || !writable(r, f) {
			continue
		}
		if slices.ContainsFunc(rl.ViolatedBy, func(s spec.Sample) bool { return s.Field == f.Name }) {
			continue
		}
		out = append(out, f.Name)
	}
	return out
}

// hasTests records, by field, the polarities in which e tests has(record.<field>) (or
// new.<field>): pol is e's own. A test under any other call counts both ways.
func hasTests(e celast.Expr, pol int, out map[string]int) {
	if e == nil {
		return
	}
	switch e.Kind() {
	case celast.SelectKind:
		s := e.AsSelect()
		if op := s.Operand(); s.IsTestOnly() && op.Kind() == celast.IdentKind && (op.AsIdent() == "record" || op.AsIdent() == "new") {
			out[s.FieldName()] |= pol
		}
	case celast.CallKind:
		c := e.AsCall()
		switch c.FunctionName() {
		case operators.LogicalNot:
			hasTests(c.Args()[0], flip(pol), out)
		case operators.LogicalAnd, operators.LogicalOr:
			for _, a := range c.Args() {
				hasTests(a, pol, out)
			}
		default:
			for _, a := range c.Args() {
				hasTests(a, helpsWhenTrue|helpsWhenFalse, out)
			}
		}
	}
}

// flip is the polarity under a !.
func flip(pol int) int {
	switch pol {
	case helpsWhenTrue:
		return helpsWhenFalse
	case helpsWhenFalse:
		return helpsWhenTrue
	}
	return pol
}
