package derive

import (
	"fmt"
	"slices"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/spec"
)

// move takes a record one transition further before an action's case: a PATCH of the field
// by the resource's updater, or another action that sets it.
type move struct {
	to     string
	action *spec.RecordAction // nil: a PATCH
	as     string
}

// transition reports whether role may move f from → to; guarded says whether a transition
// with a when: guard counts (its guard taken to hold).
func transition(f *spec.Field, from, to, role string, guarded bool) bool {
	return movable(nil, f, from, to, role, guarded)
}

// movable is transition for planning a derived record's way to a state on resource r (an enum
// that is no state machine moves freely, by the actions that set it): a guard
// that reads a value of r the suite cannot set (blindGuard) is not taken to hold — a rolled-up
// total is zero on a record made without children, whatever the guard wants of it.
func movable(r *spec.Resource, f *spec.Field, from, to, role string, guarded bool) bool {
	if len(f.Transitions) == 0 {
		return true // no machine: an action's set or a PATCH may write any value
	}
	for _, t := range f.Transitions {
		if t.To == to && (slices.Contains(t.From, from) || slices.Contains(t.From, "*")) && (guarded || !t.When.Set()) &&
			(len(t.Roles) == 0 || slices.Contains(t.Roles, role)) && (r == nil || !blindGuard(r, t)) {
			return true
		}
	}
	return false
}

// blindGuard reports whether t's guard reads a computed or rolled-up field of r.
func blindGuard(r *spec.Resource, t *spec.Transition) bool {
	return t.When.Set() && readsDerived(r, t.When.Text)
}

// blindAsserts reports whether an assert of a reads a computed or rolled-up field of r: like
// a guard reading one, it is not taken to hold (an order made without lines counts none,
// whatever "record.line_count > 0" wants of it).
func blindAsserts(r *spec.Resource, a *spec.RecordAction) bool {
	return slices.ContainsFunc(a.Steps, func(st *spec.Step) bool { return st.Assert.Set() && readsDerived(r, st.Assert.Text) })
}

// readsDerived reports whether CEL text reads a computed or rolled-up field of r.
func readsDerived(r *spec.Resource, text string) bool {
	for _, fld := range r.Fields {
		if !fld.Derived() {
			continue
		}
		for _, v := range []string{"record.", "new.", "old."} {
			if reads(text, v+fld.Name) {
				return true
			}
		}
	}
	return false
}

// machineSet is the state the action's set steps give f as constant text ("" when none).
func machineSet(a *spec.RecordAction, f *spec.Field) string {
	for _, s := range literalSets(a) {
		if s.Field == f.Name {
			return s.Value
		}
	}
	return ""
}

// judged reports whether every assert of the action is judged on f (free of it, or read
// only in the forms judge follows).
func judged(asserts []stepAssert, f *spec.Field) bool {
	for _, as := range asserts {
		if v := judge(as.expr, f.Name, startState(f)); !v.free && !v.known {
			return false
		}
	}
	return true
}

// runsFrom reports whether role may run the action on a record whose machine f is at state.
// The action's own transition may be guarded: its guard, like the asserts' other parts, is
// taken to hold. The moves before it are unguarded where they can be (statePlan).
func runsFrom(r *spec.Resource, a *spec.RecordAction, f *spec.Field, state, role string) bool {
	// an action is a move: the server refuses setting the state the record is in
	if to := machineSet(a, f); to != "" && (to == state || !movable(r, f, state, to, role, true)) {
		return false
	}
	return admits(actionAsserts(a), f.Name, state)
}

// planField is the state machine whose state decides whether the action can run: the first
// one it sets or its asserts read (nil: none). followed is false when an assert reads it in a
// way judge does not follow.
func planField(r *spec.Resource, a *spec.RecordAction) (*spec.Field, bool) {
	asserts := actionAsserts(a)
	for _, fld := range r.Fields {
		if len(fld.Transitions) == 0 || len(fld.Values) == 0 {
			continue
		}
		readsIt := slices.ContainsFunc(asserts, func(as stepAssert) bool { return !judge(as.expr, fld.Name, "").free })
		if machineSet(a, fld) == "" && !readsIt {
			continue
		}
		return fld, judged(asserts, fld)
	}
	return nil, true
}

// statePlan finds the moves that take a freshly created record to a state from which role
// may run the action: a breadth-first search over transitions made by PATCH (the resource's
// updater, when it may write the field) or by the resource's other actions — unguarded ones
// first, then, when those reach no such state, guarded ones too (their guards taken to hold,
// as the action's own). ok is false when no such state can be reached; no moves when the
// start state serves.
func (g *gen) statePlan(r *spec.Resource, a *spec.RecordAction, role string) (*spec.Field, []move, bool) {
	f, followed := planField(r, a)
	switch {
	case blindAsserts(r, a):
		return f, nil, false
	case f == nil:
		return nil, nil, true
	case !followed:
		// the asserts cannot be judged: run as created, if the action's own move is possible
		to, at := machineSet(a, f), createdState(r, f)
		return f, nil, to == "" || (to != at && movable(r, f, at, to, role, true))
	}
	for _, guarded := range []bool{false, true} {
		if moves, ok := g.search(r, a, f, role, guarded); ok {
			return f, moves, true
		}
	}
	return f, nil, false
}

func (g *gen) search(r *spec.Resource, a *spec.RecordAction, f *spec.Field, role string, guarded bool) ([]move, bool) {
	return g.shortestMoves(r, a, f, guarded, func(at string) bool { return runsFrom(r, a, f, at, role) })
}

// shortestMoves is a breadth-first search from the state a derived record of r starts in to
// the nearest one reached accepts, over movesFrom (a: the action whose own move is left out,
// or nil).
func (g *gen) shortestMoves(r *spec.Resource, a *spec.RecordAction, f *spec.Field, guarded bool, reached func(string) bool) ([]move, bool) {
	start := createdState(r, f)
	path := map[string][]move{start: nil}
	for queue := []string{start}; len(queue) > 0; queue = queue[1:] {
		at := queue[0]
		if reached(at) {
			return path[at], true
		}
		for _, m := range g.movesFrom(r, a, f, at, guarded) {
			if _, seen := path[m.to]; !seen {
				path[m.to] = append(slices.Clip(path[at]), m)
				queue = append(queue, m.to)
			}
		}
	}
	return nil, false
}

// movesFrom lists the moves out of state: PATCHes first, then the other actions, in spec order.
func (g *gen) movesFrom(r *spec.Resource, a *spec.RecordAction, f *spec.Field, state string, guarded bool) []move {
	var out []move
	if updater, ok := g.access(r, spec.ActionUpdate).actor(); ok && patchable(f, updater) {
		for _, v := range f.Values {
			if v != state && movable(r, f, state, v, updater, guarded) {
				out = append(out, move{to: v, as: updater})
			}
		}
	}
	for _, b := range r.Actions {
		to := machineSet(b, f)
		if b == a || b.Go || to == "" || requiredInput(b) != "" || blindAsserts(r, b) {
			continue
		}
		actor, ok := g.access(r, spec.Action("action:"+b.Name)).actor()
		if ok && judged(actionAsserts(b), f) && admits(actionAsserts(b), f.Name, state) && movable(r, f, state, to, actor, guarded) {
			out = append(out, move{to: to, action: b, as: actor})
		}
	}
	return out
}

// createdState is the state a derived record of r starts in: the one its body sends, or its
// default when the body cannot send the field (readonly, hidden, reserved by write roles).
func createdState(r *spec.Resource, f *spec.Field) string {
	if d, ok := f.Default.(string); ok && f.HasDefault && !writable(r, f) {
		return d
	}
	return startState(f)
}

// patchable reports whether role may write f with a PATCH.
func patchable(f *spec.Field, role string) bool {
	return !f.Readonly && !f.Hidden && !f.IsInverse() && (len(f.Write) == 0 || slices.Contains(f.Write, role))
}

// addMoves adds the cases that make the moves on the record at path (collection/{id}); why
// ends each case's comment (the move's purpose).
func (g *gen) addMoves(tf *tfile, rec, path string, f *spec.Field, moves []move, why string) {
	for _, m := range moves {
		c := &tcase{name: rec + "_to_" + m.to, as: other(m.as, tf.as), path: path, expect: want(200).has(f.Name, m.to)}
		if m.action == nil {
			c.method, c.body = "PATCH", yaml.MapSlice{{Key: f.Name, Value: m.to}}
			c.comment = fmt.Sprintf("sets %s to %s, %s", f.Name, m.to, why)
		} else {
			c.method, c.path = "POST", path+"/"+m.action.Name
			c.comment = fmt.Sprintf("the %s action takes %s to %s, %s", m.action.Name, f.Name, m.to, why)
		}
		tf.add(c)
	}
}

// runAgain is what running the action a second time answers, its steps taken in order from
// the state the first run left: an assert that now fails (its code) or the set the machine
// refuses (invalid_transition). ok is false when that cannot be told.
func runAgain(r *spec.Resource, a *spec.RecordAction) (code, comment string, ok bool) {
	field, v, found := repeatRefused(r, a)
	if !found {
		return "", "", false
	}
	written := map[string]bool{}
	for _, st := range a.Steps {
		for _, as := range st.Set {
			written[as.Field] = written[as.Field] || as.Field != field
		}
	}
	for _, st := range a.Steps {
		if st.When.Set() {
			if st.Assert.Set() || setsField(st, field) {
				return "", "", false
			}
			continue
		}
		if st.Assert.Set() {
			e := parseAssert(st.Assert.Text)
			for name, other := range written {
				if other && readsField(e, name) {
					return "", "", false // the first run changed what it reads (!has(record.closed_at))
				}
			}
			verdict := judge(e, field, v)
			switch {
			case verdict.free || (verdict.known && verdict.ok):
				continue
			case verdict.known && verdict.pure:
				return st.Code, fmt.Sprintf("at %s %s, the assert refuses: %s", field, v, st.Assert.Text), true
			}
			return "", "", false
		}
		if setsField(st, field) { // an action is a move: setting the state it is in is refused
			return "invalid_transition", fmt.Sprintf("%s is %s already: an action cannot set it again", field, v), true
		}
	}
	return "", "", false
}

func setsField(st *spec.Step, field string) bool {
	return slices.ContainsFunc(st.Set, func(as spec.Assignment) bool { return as.Field == field })
}

// runner picks who runs the action in its file: the first role allowed on every record for
// which a state to run it from can be reached (the transition may be another role's), else
// the first allowed role.
func (g *gen) runner(r *spec.Resource, a *spec.RecordAction, acc access) (string, bool) {
	first, ok := acc.actor()
	if !ok || first == "" {
		return first, ok
	}
	for _, role := range acc.with(allowed) {
		if _, _, reachable := g.statePlan(r, a, role); reachable {
			return role, true
		}
	}
	return first, true
}
