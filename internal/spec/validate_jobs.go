package spec

import (
	"cmp"
	"path/filepath"
	"slices"

	"github.com/kiln-dev/kiln/internal/mail"
)

// DefaultQueue is the queue jobs run on unless their trigger names another.
const DefaultQueue = "default"

func validateJobs(s *Spec, c *collector) {
	j := &s.Jobs
	d := DefaultJobs()
	j.EventsRetention = cmp.Or(j.EventsRetention, d.EventsRetention)
	j.Workers = cmp.Or(j.Workers, d.Workers)
	j.RetryBase = cmp.Or(j.RetryBase, d.RetryBase)
	j.RetryMax = cmp.Or(j.RetryMax, d.RetryMax)
	j.RescueAfter = cmp.Or(j.RescueAfter, d.RescueAfter)
	j.PollInterval = cmp.Or(j.PollInterval, d.PollInterval)
	j.CompletedRetention = cmp.Or(j.CompletedRetention, d.CompletedRetention)
	if j.RetryMax < j.RetryBase { // one of them was given: the defaults agree
		c.add(j.retryPos, "jobs.retry_max (%s) must not be shorter than jobs.retry_base (%s)", j.RetryMax, j.RetryBase)
	}
	for _, r := range s.Resources {
		for _, t := range r.Triggers {
			validateJobOptions(j, "trigger "+t.Name, t.Pos, t.JobOptions, c)
		}
	}
}

// validateJobOptions checks a trigger's or a schedule's job options against the jobs block.
func validateJobOptions(j *Jobs, owner string, pos Pos, o JobOptions, c *collector) {
	if o.Timeout > 0 && o.Timeout >= j.RescueAfter {
		c.add(o.at("timeout", pos), "%s: timeout %s must be shorter than jobs.rescue_after (%s), or a running job would be run twice", owner, o.Timeout, j.RescueAfter)
	}
	if o.Queue != "" && o.Queue != DefaultQueue && j.Queues[o.Queue] == 0 {
		c.add(o.at("queue", pos), "%s: queue %q is not declared under jobs.queues", owner, o.Queue)
	}
	if o.Priority < 0 || o.Priority > 4 {
		c.add(o.at("priority", pos), "%s: priority must be 1 (first) to 4", owner)
	}
}

func validateTriggers(s *Spec, r *Resource, c *collector) {
	seen := map[string]bool{}
	for _, t := range r.Triggers {
		checkIdent(c, t.Pos, "trigger", t.Name)
		if seen[t.Name] {
			c.add(t.Pos, "trigger %s is declared twice on %s", t.Name, r.Name)
		}
		seen[t.Name] = true
		validateTrigger(s, r, t, c)
	}
}

func validateTrigger(s *Spec, r *Resource, t *Trigger, c *collector) {
	if len(t.On) == 0 {
		c.add(t.Pos, "trigger %s needs on: [create, update, delete or an action of %s]", t.Name, r.Name)
	}
	ops := []string{string(OpCreate), string(OpUpdate), string(OpDelete)}
	for _, a := range r.Actions {
		ops = append(ops, a.Name)
	}
	for _, op := range t.On {
		if !slices.Contains(ops, op) {
			c.add(t.Pos, "trigger %s: on: %q is not create, update, delete or an action of %s%s", t.Name, op, r.Name, suggest(op, ops))
		}
	}
	kinds := 0
	for _, set := range []bool{t.Mail != nil, t.Action != "", t.Update != nil, t.Handler != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		c.add(t.Pos, "trigger %s needs exactly one of mail:, action:, update: or handler:", t.Name)
	}
	if t.Mail != nil {
		validateTriggerMail(s, r, t, c)
	}
	if t.Action != "" {
		checkInputless(c, t.ActionPos, "trigger "+t.Name, r, t.Action)
	}
	if t.Handler != "" {
		checkIdent(c, t.Pos, "handler", t.Handler)
	}
	if t.Update != nil {
		validateUpdate(s, "trigger "+t.Name, t.Update, c)
	}
}

// loadMailTemplate parses a template file named relative to the spec, reporting a problem
// at pos.
func loadMailTemplate(s *Spec, c *collector, pos Pos, what, file string) *mail.Template {
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(s.File), path)
	}
	tmpl, err := mail.LoadTemplate(path)
	if err != nil {
		c.add(pos, "%s %s: %v", what, file, err)
		return nil
	}
	return tmpl
}

func validateTriggerMail(s *Spec, r *Resource, t *Trigger, c *collector) {
	m := t.Mail
	if m.Template != "" {
		m.Loaded = loadMailTemplate(s, c, m.TemplatePos, "trigger "+t.Name+": mail.template", m.Template)
		if m.Loaded != nil {
			checkMailRefs(c, m.TemplatePos, "trigger "+t.Name+": mail.template "+m.Template, sharingTemplate(s, r, m.Template), m.Loaded)
		}
	}
	hasSubject := m.Subject.Set() || (m.Loaded != nil && m.Loaded.HasSubject())
	if !m.To.Set() || (!hasSubject && m.Template == "") {
		c.add(m.Pos, "trigger %s: mail needs to: and subject: (CEL strings; text: is optional) or a template: defining the subject", t.Name)
	} else if m.Loaded != nil && !hasSubject {
		c.add(m.TemplatePos, "trigger %s: mail.template %s defines no subject: add {{define \"subject\"}} or subject:", t.Name, m.Template)
	}
	if m.Template != "" && m.Text.Set() {
		c.add(m.Pos, "trigger %s: mail has both text: and template: (the template gives the body)", t.Name)
	}
}
