package logic

import (
	"context"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"

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

// checkMailTo refuses a mail.to that is a relation field itself (new.owner): its value is the
// related record's id, not an address, and every mail would fail when sent.
func (c *compiler) checkMailTo(r *spec.Resource, e spec.Expr, to *program, what string) {
	if to == nil || to.bare == "" {
		return
	}
	if f := r.Field(to.bare); f != nil && f.Relation != nil && f.Relation.Kind == spec.RelToOne {
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

// Triggers evaluates the triggers listening to op: vars.Old is the record before (an empty
// record on create) and vars.New the record after (the record as it was on delete). A
// condition that cannot be computed is an *EvalError naming the trigger.
func (r *Resource) Triggers(ctx context.Context, reader Reader, vars *Vars, op string) ([]Fired, error) {
	var out []Fired
	for _, t := range r.triggers {
		if !t.spec.Fires(op) {
			continue
		}
		if t.when != nil {
			ok, err := t.when.holds(ctx, reader, vars)
			if err != nil {
				return nil, fmt.Errorf("trigger %s: %w", t.spec.Name, err)
			}
			if !ok {
				continue
			}
		}
		f := Fired{Trigger: t.spec}
		if t.to != nil {
			m, err := t.mail(ctx, reader, vars)
			if err != nil {
				return nil, fmt.Errorf("trigger %s: %w", t.spec.Name, err)
			}
			f.Mail = m
		}
		if t.update != nil {
			ids, err := t.update.selected(ctx, reader, vars)
			if err != nil {
				return nil, fmt.Errorf("trigger %s: %w", t.spec.Name, err)
			}
			f.IDs = ids
		}
		out = append(out, f)
	}
	return out, nil
}

func (t *trigger) mail(ctx context.Context, reader Reader, vars *Vars) (*Mail, error) {
	m := &Mail{}
	for _, part := range []struct {
		prog *program
		dst  *string
	}{{t.to, &m.To}, {t.subject, &m.Subject}, {t.text, &m.Text}} {
		if part.prog == nil {
			continue
		}
		v, err := part.prog.eval(ctx, reader, vars)
		if err != nil {
			return nil, err
		}
		*part.dst = fmt.Sprint(v.Value())
	}
	return m, nil
}
