package derive

import (
	"fmt"
	"slices"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/kiln-dev/kiln/internal/spec"
)

// wantedState is a state a create rule of some resource wants the record a relation refers to
// in: "get('events', record.event).status == 'published'" wants an event published before a
// ticket refers to it, and a derived event starts as a draft.
type wantedState struct {
	field *spec.Field // the target's state machine
	in    []string    // the states the rule accepts
	rule  string      // the rule, for a gap
}

// wantedStates are the states r's create rules want fld's target in, as they read it:
// record.<fld>.<state> or get('<target>', record.<fld>).<state> compared with == to a string or
// by in with a list of strings, in a conjunction (one side of || is not a need). Only state
// machines and enums the creator cannot write (a status only actions set) count: another
// field is a value the target's body gives.
func wantedStates(r *spec.Resource, fld *spec.Field, to *spec.Resource) []wantedState {
	var out []wantedState
	for _, rl := range r.Rules {
		if !spec.Applies(rl.On, spec.OpCreate) {
			continue
		}
		for _, c := range conjuncts(parseAssert(rl.Check.Text)) {
			name, in, ok := targetStateTest(c, fld.Name, to.Name)
			sf := to.Field(name)
			if ok && sf != nil && len(sf.Values) > 0 && (len(sf.Transitions) > 0 || !writable(to, sf)) {
				out = append(out, wantedState{field: sf, in: in, rule: ruleLabel(rl)})
			}
		}
	}
	return out
}

// conjuncts splits e at its top-level &&s.
func conjuncts(e celast.Expr) []celast.Expr {
	if e == nil {
		return nil
	}
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		args := e.AsCall().Args()
		return append(conjuncts(args[0]), conjuncts(args[1])...)
	}
	return []celast.Expr{e}
}

// targetStateTest reads "<target>.<state> == 'x'" (either side) or "<target>.<state> in [...]".
func targetStateTest(e celast.Expr, fld, to string) (string, []string, bool) {
	if e.Kind() != celast.CallKind || len(e.AsCall().Args()) != 2 {
		return "", nil, false
	}
	c := e.AsCall()
	a, b := c.Args()[0], c.Args()[1]
	switch c.FunctionName() {
	case operators.Equals:
		if _, ok := targetSelect(a, fld, to); !ok {
			a, b = b, a
		}
		name, ok := targetSelect(a, fld, to)
		lit, isLit := stringLiteral(b)
		return name, []string{lit}, ok && isLit
	case operators.In:
		name, ok := targetSelect(a, fld, to)
		set, isList := stringList(b)
		return name, set, ok && isList
	}
	return "", nil, false
}

// targetSelect reads "record.<fld>.<name>" or "get('<to>', record.<fld>).<name>" and gives name.
func targetSelect(e celast.Expr, fld, to string) (string, bool) {
	if e.Kind() != celast.SelectKind {
		return "", false
	}
	op := e.AsSelect().Operand()
	switch op.Kind() {
	case celast.SelectKind:
		return e.AsSelect().FieldName(), isFieldRef(op, fld) && op.AsSelect().Operand().AsIdent() == "record"
	case celast.CallKind:
		call := op.AsCall()
		if call.FunctionName() != "get" || len(call.Args()) != 2 || call.IsMemberFunction() {
			return "", false
		}
		res, ok := stringLiteral(call.Args()[0])
		return e.AsSelect().FieldName(), ok && res == to && isFieldRef(call.Args()[1], fld) &&
			call.Args()[1].AsSelect().Operand().AsIdent() == "record"
	}
	return "", false
}

// notTheCreators reports whether a create rule of r wants fld's target to be another
// account's than the creator's — record.<fld>.<owner> != auth.id, or get('<to>',
// record.<fld>).<owner> != auth.id, in a conjunction (a pledge to one's own campaign is
// refused) — so its targets are made by another account of their maker's role.
func notTheCreators(r *spec.Resource, fld *spec.Field, to *spec.Resource) bool {
	for _, rl := range r.Rules {
		if !spec.Applies(rl.On, spec.OpCreate) {
			continue
		}
		for _, c := range conjuncts(parseAssert(rl.Check.Text)) {
			if c.Kind() != celast.CallKind || c.AsCall().FunctionName() != operators.NotEquals {
				continue
			}
			a, b := c.AsCall().Args()[0], c.AsCall().Args()[1]
			if isAuthID(a) {
				a, b = b, a
			}
			if name, ok := targetSelect(a, fld.Name, to.Name); ok && isAuthID(b) && to.Field(name) != nil && to.Field(name).Relation != nil {
				return true
			}
		}
	}
	return false
}

// isAuthID reads auth.id.
func isAuthID(e celast.Expr) bool {
	if e.Kind() != celast.SelectKind || e.AsSelect().FieldName() != "id" {
		return false
	}
	op := e.AsSelect().Operand()
	return op.Kind() == celast.IdentKind && op.AsIdent() == "auth"
}

// othersTarget reports whether a create rule of r or of a needed resource wants its target
// of resource d to be another account's than the creator's (notTheCreators).
func (g *gen) othersTarget(d *spec.Resource, needed map[string]bool, r *spec.Resource) bool {
	for _, x := range g.s.Resources {
		if !needed[x.Name] && x != r {
			continue
		}
		for _, fld := range x.Fields {
			if fld.Relation != nil && fld.Relation.To == d.Name && !fld.IsInverse() && notTheCreators(x, fld, d) {
				return true
			}
		}
	}
	return false
}

// reachState finds the moves that take a freshly created record of r to one of the states in
// (none when it starts in one): PATCHes by the updater and the record's actions, unguarded
// moves first, as statePlan's.
func (g *gen) reachState(r *spec.Resource, f *spec.Field, in []string) ([]move, bool) {
	for _, guarded := range []bool{false, true} {
		if moves, ok := g.shortestMoves(r, nil, f, guarded, func(at string) bool { return slices.Contains(in, at) }); ok {
			return moves, true
		}
	}
	return nil, false
}

// moveTarget adds the cases that take the record case made (a target of r's relation fld) to
// the states r's create rules want it in. It returns a gap when no derived record gets there.
func (g *gen) moveTarget(tf *tfile, r *spec.Resource, fld *spec.Field, made string) string {
	to := g.s.Resource(fld.Relation.To)
	for _, w := range wantedStates(r, fld, to) {
		moves, ok := g.reachState(to, w.field, w.in)
		if !ok {
			return fmt.Sprintf("rule %s wants %s.%s in [%s], which no derived %s record reaches", w.rule,
				to.Name, w.field.Name, strings.Join(w.in, ", "), to.Name)
		}
		path := g.collection(to) + "/{" + made + ".response.id}"
		g.addMoves(tf, made, path, w.field, moves, "where rule "+w.rule+" of "+r.Name+" wants it")
	}
	return ""
}

// fromWhereItRuns is why a move is made before an action's case.
const fromWhereItRuns = "from where the action can run"
