package logic

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"

	"github.com/kiln-dev/kiln/internal/spec"
)

// trigger is a compiled trigger: its condition and, for mail, the message's parts.
type trigger struct {
	spec              *spec.Trigger
	when              *program
	to, subject, text *program
	update            *ScheduleUpdate
}

func (c *compiler) triggers(r *spec.Resource, updates map[string]*ScheduleUpdate) []*trigger {
	sc := scope{resource: r.Name, trigger: true}
	out := make([]*trigger, 0, len(r.Triggers))
	for _, t := range r.Triggers {
		what := "trigger " + t.Name
		ct := &trigger{spec: t, when: c.program(sc, t.When, cel.BoolType, what+" when")}
		if m := t.Mail; m != nil {
			ct.to = c.program(sc, m.To, cel.StringType, what+" mail.to")
			c.checkMailTo(r, m.To, ct.to, what)
			ct.subject = c.program(sc, m.Subject, cel.StringType, what+" mail.subject")
			ct.text = c.program(sc, m.Text, cel.StringType, what+" mail.text")
		}
		if ct.update = c.update(sc, what, t.Update); ct.update != nil {
			updates[t.Kind(r.Name)] = ct.update
		}
		out = append(out, ct)
	}
	return out
}

// checkMailTo refuses a mail.to that is a to-one relation field (new.owner,
// get('pets', new.pet).owner, new.pet.owner): its value is the related record's id, not an
// address, and every mail would fail when sent.
func (c *compiler) checkMailTo(r *spec.Resource, e spec.Expr, to *program, what string) {
	if to == nil {
		return
	}
	f := c.selectedField(r, parseExpr(e.Text))
	if f == nil || f.Relation == nil || f.Relation.Kind != spec.RelToOne {
		return
	}
	target := c.spec.Resource(f.Relation.To)
	hint := "an address field of it"
	if target != nil {
		for _, tf := range target.Fields {
			if tf.Type == spec.TypeEmail {
				hint = tf.Name
				break
			}
		}
	}
	c.fail(e.Pos, "%s mail.to: %s is the id of a %s record, not an address: write get('%s', %s).%s",
		what, strings.TrimSpace(e.Text), f.Relation.To, f.Relation.To, strings.TrimSpace(e.Text), hint)
}

// selectedField is the field x selects last, when x is a chain of selections from the record
// (record, new or old) or from get('<resource>', …), through to-one relations; else nil.
func (c *compiler) selectedField(r *spec.Resource, x celast.Expr) *spec.Field {
	if x == nil || x.Kind() != celast.SelectKind || x.AsSelect().IsTestOnly() {
		return nil
	}
	sel := x.AsSelect()
	var owner *spec.Resource
	switch op := sel.Operand(); {
	case op.Kind() == celast.IdentKind && slices.Contains([]string{varRecord, varNew, varOld}, op.AsIdent()):
		owner = r
	case op.Kind() == celast.CallKind && op.AsCall().FunctionName() == "get" && len(op.AsCall().Args()) == 2:
		if arg := op.AsCall().Args()[0]; arg.Kind() == celast.LiteralKind {
			name, _ := arg.AsLiteral().Value().(string)
			owner = c.spec.Resource(name)
		}
	case op.Kind() == celast.SelectKind:
		if via := c.selectedField(r, op); via != nil && via.Relation != nil && via.Relation.Kind == spec.RelToOne {
			owner = c.spec.Resource(via.Relation.To)
		}
	}
	if owner == nil {
		return nil
	}
	return owner.Field(sel.FieldName())
}

// parseExpr parses src without checking it (the compiler did); nil when it does not parse.
func parseExpr(src string) celast.Expr {
	env, err := cel.NewEnv()
	if err != nil {
		return nil
	}
	parsed, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil
	}
	return parsed.NativeRep().Expr()
}

// Fired is a trigger whose condition held for an event.
type Fired struct {
	Trigger *spec.Trigger
	// Mail is the message of a mail trigger, computed when the event was written.
	Mail *Mail
	// IDs are the records an update trigger's filter selected when the event was written.
	IDs []string
}

// Mail is an email a trigger sends.
type Mail struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// HasTriggers reports whether any trigger listens to op (create, update, delete or an
// action's name).
func (r *Resource) HasTriggers(op string) bool {
	for _, t := range r.triggers {
		if t.spec.Fires(op) {
			return true
		}
	}
	return false
}

// The parts of a trigger a TriggerError names.
const (
	PartWhen    = "condition (when)"
	PartTo      = "mail recipient (to)"
	PartSubject = "mail subject"
	PartText    = "mail text"
	PartUpdate  = "records to update (update.filter)"
)

// TriggerError is Triggers' error when a part of a trigger cannot be computed for an event:
// Part names which (PartWhen, PartTo, …) so that a client is not told the condition failed
// when it was the recipient; Err is the cause, an *EvalError naming the expression for the log.
type TriggerError struct {
	Trigger string
	Part    string
	Err     error
}

func (e *TriggerError) Error() string { return fmt.Sprintf("trigger %s: %v", e.Trigger, e.Err) }

// Unwrap exposes the cause.
func (e *TriggerError) Unwrap() error { return e.Err }

// Triggers evaluates the triggers listening to op: vars.Old is the record before (an empty
// record on create) and vars.New the record after (the record as it was on delete). A part
// that cannot be computed is a *TriggerError naming the trigger and the part, wrapping an
// *EvalError that names the expression.
func (r *Resource) Triggers(ctx context.Context, reader Reader, vars *Vars, op string) ([]Fired, error) {
	var out []Fired
	for _, t := range r.triggers {
		if !t.spec.Fires(op) {
			continue
		}
		f, fires, part, err := t.fire(ctx, reader, vars)
		if err != nil {
			return nil, &TriggerError{Trigger: t.spec.Name, Part: part, Err: err}
		}
		if fires {
			out = append(out, f)
		}
	}
	return out, nil
}

// fire computes t for an event: whether its condition holds and, when it does, its mail and
// the records it updates. A failure names the part it came from.
func (t *trigger) fire(ctx context.Context, reader Reader, vars *Vars) (f Fired, fires bool, part string, err error) {
	if t.when != nil {
		ok, err := t.when.holds(ctx, reader, vars)
		if err != nil || !ok {
			return f, false, PartWhen, err
		}
	}
	f = Fired{Trigger: t.spec}
	if t.to != nil {
		if f.Mail, part, err = t.mail(ctx, reader, vars); err != nil {
			return f, false, part, err
		}
	}
	if t.update != nil {
		if f.IDs, err = t.update.selected(ctx, reader, vars); err != nil {
			return f, false, PartUpdate, err
		}
	}
	return f, true, "", nil
}

func (t *trigger) mail(ctx context.Context, reader Reader, vars *Vars) (*Mail, string, error) {
	m := &Mail{}
	for _, part := range []struct {
		prog *program
		dst  *string
		name string
	}{{t.to, &m.To, PartTo}, {t.subject, &m.Subject, PartSubject}, {t.text, &m.Text, PartText}} {
		if part.prog == nil {
			continue
		}
		v, err := part.prog.eval(ctx, reader, vars)
		if err != nil {
			return nil, part.name, err
		}
		*part.dst = fmt.Sprint(v.Value())
	}
	return m, "", nil
}
