package spec

import (
	"github.com/goccy/go-yaml/ast"
)

var (
	jobsKeys    = []string{"events_retention", "workers", "queues", "retry_base", "retry_max", "rescue_after", "poll_interval", "completed_retention"}
	triggerKeys = []string{"name", "on", "when", "mail", "action", "update", "handler", "queue", "priority", "max_attempts", "timeout"}
	mailKeys    = []string{"to", "subject", "text", "template"}
)

func (w *walker) jobs(n ast.Node, j *Jobs) {
	entries, _ := w.mapping(n, "jobs", jobsKeys...)
	for _, e := range entries {
		what := "jobs." + e.key
		switch e.key {
		case "events_retention":
			j.EventsRetention = w.duration(e.value, what)
		case "workers":
			j.Workers = w.count(e.value, what)
		case "queues":
			qs, _ := w.mapping(e.value, what)
			j.Queues = map[string]int{}
			for _, q := range qs {
				checkIdent(w.collector, q.pos, "queue", q.key)
				j.Queues[q.key] = w.count(q.value, what+"."+q.key)
			}
		case "retry_base":
			j.RetryBase = w.duration(e.value, what)
			j.retryPos = cmpPos(j.retryPos, e.pos)
		case "retry_max":
			j.RetryMax = w.duration(e.value, what)
			j.retryPos = cmpPos(j.retryPos, e.pos)
		case "rescue_after":
			j.RescueAfter = w.duration(e.value, what)
		case "poll_interval":
			j.PollInterval = w.duration(e.value, what)
		case "completed_retention":
			j.CompletedRetention = w.duration(e.value, what)
		}
	}
}

// cmpPos is p, or q when p is unset.
func cmpPos(p, q Pos) Pos {
	if p.Line == 0 {
		return q
	}
	return p
}

// count reads a positive integer of at most 10,000.
func (w *walker) count(n ast.Node, what string) int {
	v, ok := w.integer(n, what)
	if ok && (v < 1 || v > 10000) {
		w.add(w.pos(n), "%s must be between 1 and 10000", what)
		return 0
	}
	return int(v)
}

func (w *walker) triggers(n ast.Node, res string) []*Trigger {
	var out []*Trigger
	for _, item := range w.list(n, "triggers of "+res) {
		t := &Trigger{Pos: w.pos(item)}
		entries, _ := w.mapping(item, "trigger", triggerKeys...)
		for _, e := range entries {
			w.triggerKey(t, e)
		}
		out = append(out, t)
	}
	return out
}

func (w *walker) triggerKey(t *Trigger, e entry) {
	what := "trigger." + e.key
	switch e.key {
	case "name":
		t.Name = w.str(e.value, what)
	case "on":
		t.On = w.strings(e.value, what)
	case "when":
		t.When = w.expr(e.value, what)
	case "mail":
		t.Mail = &TriggerMail{Pos: w.pos(e.value)}
		parts, _ := w.mapping(e.value, what, mailKeys...)
		for _, p := range parts {
			if p.key == "template" {
				t.Mail.Template, t.Mail.TemplatePos = w.str(p.value, what+".template"), w.pos(p.value)
				continue
			}
			x := w.expr(p.value, what+"."+p.key)
			switch p.key {
			case "to":
				t.Mail.To = x
			case "subject":
				t.Mail.Subject = x
			case "text":
				t.Mail.Text = x
			}
		}
	case "action":
		t.Action, t.ActionPos = w.str(e.value, what), w.pos(e.value)
	case "update":
		t.Update = w.scheduleUpdate(e.value)
	case "handler":
		t.Handler, t.HandlerPos = w.str(e.value, what), w.pos(e.value)
	default:
		w.jobOption(&t.JobOptions, e, what)
	}
}

// jobOption reads queue, priority, max_attempts or timeout.
func (w *walker) jobOption(o *JobOptions, e entry, what string) {
	if o.ValuePos == nil {
		o.ValuePos = map[string]Pos{}
	}
	o.ValuePos[e.key] = w.pos(e.value)
	switch e.key {
	case "queue":
		o.Queue = w.str(e.value, what)
	case "priority":
		if v, ok := w.integer(e.value, what); ok {
			o.Priority = int(v)
		}
	case "max_attempts":
		o.MaxAttempts = w.count(e.value, what)
	case "timeout":
		o.Timeout = w.duration(e.value, what)
	}
}
