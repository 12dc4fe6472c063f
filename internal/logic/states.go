package logic

import (
	"context"
	"errors"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/kiln-dev/kiln/internal/spec"
)

// stateMachine is an enum field with declared transitions and initial states.
type stateMachine struct {
	field       *spec.Field
	initial     []string
	transitions []*transition
}

type transition struct {
	spec *spec.Transition
	when *program
}

func (c *compiler) stateMachine(sc scope, f *spec.Field) *stateMachine {
	sm := &stateMachine{field: f, initial: f.Initial}
	for _, t := range f.Transitions {
		sm.transitions = append(sm.transitions, &transition{spec: t,
			when: c.program(sc, t.When, cel.BoolType, "field "+f.Name+" transition to "+t.To)})
	}
	return sm
}

// Violation is a rule, state or assertion a write breaks.
type Violation struct {
	Rule     string
	Code     string
	Message  string
	Fields   []string
	Conflict bool // about stored state: a 409 with Code
	// From and To name a refused state change (Code invalid_transition).
	From, To string
}

// CodeInvalidTransition is the error code of a state change the state machine refuses.
const CodeInvalidTransition = "invalid_transition"

// CheckStates checks every state field of a write: on create the state must be an initial
// one; on update a changed state must follow a transition the principal's role may take and
// whose guard holds. system writes (Kiln itself, seeding) skip the role check.
func (r *Resource) CheckStates(ctx context.Context, reader Reader, vars *Vars, op spec.Operation, system bool) ([]Violation, error) {
	var out []Violation
	for _, sm := range r.states {
		to, _ := vars.Record.Fields[sm.field.Name].(string)
		if op == spec.OpCreate {
			if !system && len(sm.initial) > 0 && !slices.Contains(sm.initial, to) {
				msg := "cannot start as " + to + ": start as " + strings.Join(sm.initial, " or ")
				if to == "" {
					// an explicit null skipped the default and left a record no transition
					// leads out of (the shop's order, its stock taken, could never be cancelled)
					msg = "cannot start without a state: start as " + strings.Join(sm.initial, " or ")
				}
				out = append(out, Violation{Code: CodeInvalidTransition, Conflict: true, Fields: []string{sm.field.Name}, To: to,
					Message: msg})
			}
			continue
		}
		from := ""
		if vars.Old != nil {
			from, _ = vars.Old.Fields[sm.field.Name].(string)
		}
		if op != spec.OpUpdate || from == to {
			continue
		}
		ok, why, err := sm.allows(ctx, reader, vars, from, to, system)
		if err != nil {
			return nil, err
		}
		if !ok {
			msg := "cannot change from " + from + " to " + to
			if to == "" { // an explicit null: no state is no state a transition leads to
				msg = "cannot change from " + from + " to no state (null)"
			}
			if !sm.field.Hidden { // a hidden machine's roles and guards are in no document either
				msg += ": " + why
			}
			out = append(out, Violation{Code: CodeInvalidTransition, Conflict: true, Fields: []string{sm.field.Name},
				From: from, To: to, Message: msg})
		}
	}
	return out, nil
}

// allows reports whether a transition leads from → to for the principal with its guard
// holding; when none does, why says what stood in the way: no transition, the role, or the
// guard (its CEL, as the spec wrote it).
func (sm *stateMachine) allows(ctx context.Context, reader Reader, vars *Vars, from, to string, system bool) (bool, string, error) {
	if len(sm.transitions) == 0 {
		return true, "", nil // initial states only
	}
	var roles []string
	guard := ""
	for _, t := range sm.transitions {
		if t.spec.To != to || !(slices.Contains(t.spec.From, from) || slices.Contains(t.spec.From, "*")) {
			continue
		}
		if !system && len(t.spec.Roles) > 0 && (vars.Auth == nil || !slices.Contains(t.spec.Roles, vars.Auth.Role)) {
			roles = append(roles, t.spec.Roles...)
			continue
		}
		if t.when == nil {
			return true, "", nil
		}
		ok, err := t.when.holds(ctx, reader, vars)
		var ee *EvalError
		switch {
		case err != nil && !errors.As(err, &ee):
			return false, "", err // the database failed: not a verdict
		case ok:
			return true, "", nil
		case err != nil:
			// A guard that cannot be computed for this record (a missing value, a related
			// record that does not exist) does not hold, as a rule that cannot be computed fails.
			guard = "its condition cannot be computed for this record (" + t.spec.When.Text + ")"
		default:
			guard = "its condition does not hold (" + t.spec.When.Text + ")"
		}
	}
	switch {
	case guard != "":
		return false, guard, nil
	case len(roles) > 0:
		slices.Sort(roles)
		return false, "only " + strings.Join(slices.Compact(roles), ", ") + " may make it", nil
	}
	return false, "no transition leads there", nil
}

// Transitions lists a state field's transitions (for documents and derived tests).
func (r *Resource) Transitions(field string) []*spec.Transition {
	for _, sm := range r.states {
		if sm.field.Name == field {
			return sm.field.Transitions
		}
	}
	return nil
}
