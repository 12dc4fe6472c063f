package kiln

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/mail"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Job is a trigger's job as a Go handler sees it: the event that fired it.
type Job struct {
	ID        int64
	Attempt   int
	Trigger   string
	Resource  string
	Operation string // create, update, delete or action
	Action    string // the action's name, for action events
	RecordID  string
	// Old and New are the record before and after the write (nil on create and on delete),
	// decoded from JSON: strings, float64 or json.Number, bool, nil, []any.
	Old, New  map[string]any
	Principal string
	EventID   int64
	// Records reads and writes records on Kiln's own authority (access rules do not apply;
	// field rules, state machines, effects, events and triggers do). A job may run more than
	// once: write idempotently (set a state, not add to a count).
	Records *Records
}

// JobFunc handles a trigger's jobs. It may run more than once for one event (at least
// once): make it idempotent. An error fails the attempt: the job is retried after a
// backoff, and is dead after the trigger's max_attempts.
type JobFunc func(ctx context.Context, job Job) error

// Job registers the Go handler that triggers declaring handler: name run.
func (x *Extensions) Job(name string, fn JobFunc) {
	if x.jobs == nil {
		x.jobs = map[string]JobFunc{}
	}
	x.jobs[name] = fn
}

// newQueue builds the job queue with a kind per trigger of the spec and migrates its tables.
func (a *App) newQueue(ctx context.Context, cfg Config) error {
	var kinds []jobs.Kind
	used := map[string]bool{}
	for _, r := range a.Spec.Resources {
		for _, t := range r.Triggers {
			h, err := a.triggerHandler(cfg, r, t)
			if err != nil {
				return err
			}
			used[t.Handler] = true
			kinds = append(kinds, jobs.Kind{Name: t.Kind(r.Name), Timeout: t.Timeout, Handle: h})
		}
	}
	hooks, err := a.webhookKinds(cfg)
	if err != nil {
		return err
	}
	kinds = append(kinds, hooks...)
	if x := cfg.Extensions; x != nil {
		for name := range x.jobs {
			if !used[name] {
				return fmt.Errorf("Extensions.Job: no trigger of the spec declares handler: %s", name)
			}
		}
	}
	kinds = append(kinds, a.builtinKinds()...)
	skinds, periodic, err := a.scheduleKinds(cfg)
	if err != nil {
		return err
	}
	kinds = append(kinds, skinds...)
	j := a.Spec.Jobs
	queues := map[string]int{spec.DefaultQueue: j.Workers}
	for name, n := range j.Queues {
		queues[name] = n
	}
	q, err := jobs.New(jobs.Config{Store: a.Store, Kinds: kinds, Periodic: periodic, Queues: queues, RetryBase: j.RetryBase, RetryMax: j.RetryMax,
		RescueAfter: j.RescueAfter, PollInterval: j.PollInterval, CompletedRetention: j.CompletedRetention, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	a.Jobs = q
	if err := q.Migrate(ctx); err != nil {
		return err
	}
	return a.newWebhooks(ctx, cfg)
}

// builtinKinds are Kiln's own jobs the spec needs: account mails through a provider, and
// the deletion of stored files.
func (a *App) builtinKinds() []jobs.Kind {
	var kinds []jobs.Kind
	if a.Spec.Mail.Provider != spec.MailOutbox {
		kinds = append(kinds, a.mailJobKind())
	}
	if a.Spec.HasFiles() {
		kinds = append(kinds, a.filesJobKind())
	}
	return kinds
}

// triggerHandler is what runs a trigger's jobs: a mail, an action, or a Go handler.
func (a *App) triggerHandler(cfg Config, r *spec.Resource, t *spec.Trigger) (jobs.Handler, error) {
	switch {
	case t.Mail != nil:
		return func(ctx context.Context, j *jobs.Job) error {
			args, err := triggerArgs(j)
			if err != nil || args.Mail == nil {
				return jobs.Permanent(fmt.Errorf("a mail job without its message: %v", err))
			}
			return a.send(ctx, mail.Message{To: args.Mail.To, Subject: args.Mail.Subject, Text: args.Mail.Text, HTML: args.Mail.HTML})
		}, nil
	case t.Action != "":
		return func(ctx context.Context, j *jobs.Job) error {
			args, err := triggerArgs(j)
			if err != nil {
				return jobs.Permanent(err)
			}
			_, err = a.Service.Action(service.AsSystem(ctx), r.Name, args.RecordID, t.Action, nil, service.WriteOpts{})
			return jobError(err)
		}, nil
	case t.Update != nil:
		return func(ctx context.Context, j *jobs.Job) error {
			args, err := triggerArgs(j)
			if err != nil {
				return jobs.Permanent(err)
			}
			rep, err := a.Service.UpdateRecords(ctx, j.Kind, args.IDs, time.Now())
			a.logUpdate(ctx, j.Kind, rep)
			return jobError(err)
		}, nil
	}
	var fn JobFunc
	if cfg.Extensions != nil {
		fn = cfg.Extensions.jobs[t.Handler]
	}
	if fn == nil && cfg.NoWorkers {
		// This process enqueues and inspects jobs but never works them (kiln jobs, kiln
		// serve --workers=false): the Go program that registers the handler does.
		return func(context.Context, *jobs.Job) error {
			return fmt.Errorf("handler %s is not registered in this process", t.Handler)
		}, nil
	}
	if fn == nil {
		return nil, fmt.Errorf("trigger %s of %s names handler %s: register it with Extensions.Job(%q, fn), or serve with workers off and run them in your Go program", t.Name, r.Name, t.Handler, t.Handler)
	}
	return func(ctx context.Context, j *jobs.Job) error {
		args, err := triggerArgs(j)
		if err != nil {
			return jobs.Permanent(err)
		}
		job := publicJob(j, args)
		job.Records = &Records{svc: a.Service, system: true}
		return fn(ctx, job)
	}, nil
}

func triggerArgs(j *jobs.Job) (*service.TriggerJob, error) {
	var args service.TriggerJob
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return nil, fmt.Errorf("decode the job's args: %w", err)
	}
	return &args, nil
}

// jobError decides whether a failed built-in job is worth another attempt: an answer about
// the request (not found, a conflict, invalid values) will not change by waiting, so the job
// is cancelled with the error recorded; an outage or an internal error is retried.
func jobError(err error) error {
	var e *service.Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	switch e.StatusCode() {
	case service.CodeUnavailable, service.CodeInternal, service.CodeTimeout:
		return err
	}
	return jobs.Permanent(err)
}

func publicJob(j *jobs.Job, args *service.TriggerJob) Job {
	out := Job{ID: j.ID, Attempt: j.Attempt, Trigger: args.Trigger, Resource: args.Resource, Operation: args.Operation,
		Action: args.Action, RecordID: args.RecordID, Principal: args.Principal, EventID: args.EventID}
	_ = json.Unmarshal(args.Old, &out.Old)
	_ = json.Unmarshal(args.New, &out.New)
	return out
}

// RunWorkers works jobs without serving HTTP until ctx ends, as kiln worker does; running jobs
// then get 10 seconds to finish before they are released to run again. Old events are swept
// meanwhile. It refuses a spec naming handler:s Config.Extensions does not register.
func (a *App) RunWorkers(ctx context.Context) error {
	if a.unregistered != nil {
		return a.unregistered // built with NoWorkers, its jobs would fail on every attempt
	}
	sweepCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.sweepEvents(sweepCtx) }()
	defer func() { stop(); <-done }()
	if err := a.Jobs.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return a.stopWorkers()
}

// stopWorkers stops the workers: running jobs get jobs.ShutdownGrace (10 s) to finish, then
// are cancelled and released to run again.
func (a *App) stopWorkers() error {
	ctx, cancel := context.WithTimeout(context.Background(), jobs.ShutdownGrace+5*time.Second)
	defer cancel()
	a.log.Info("stopping workers", "grace_ms", jobs.ShutdownGrace.Milliseconds())
	return a.Jobs.Stop(ctx)
}

// sweepEvents deletes events older than jobs.events_retention, and finished webhook
// messages and received webhook ids older than webhooks.Retention, until ctx ends; every
// instance sweeps, and the deletes are idempotent.
func (a *App) sweepEvents(ctx context.Context) {
	keep := a.Spec.Jobs.EventsRetention
	t := time.NewTicker(min(max(keep/4, time.Second), time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := events.Sweep(ctx, a.Store, time.Now().Add(-keep)); err != nil && ctx.Err() == nil {
				a.log.WarnContext(ctx, "events sweep failed", "error", err.Error())
			}
			if a.webhooks == nil {
				continue
			}
			if err := a.webhooks.Sweep(ctx, time.Now().Add(-webhooks.Retention)); err != nil && ctx.Err() == nil {
				a.log.WarnContext(ctx, "webhooks sweep failed", "error", err.Error())
			}
		}
	}
}

// Permanent wraps a job handler's error so the job is not tried again: it is cancelled with
// the error recorded (for failures waiting cannot fix, such as a record that is gone).
func Permanent(err error) error { return jobs.Permanent(err) }

// builtinTimeout is the timeout of one of Kiln's own job kinds (a webhook delivery, a stored
// file's deletion): def, or half of jobs.rescue_after when that is shorter, as for a trigger
// without a timeout of its own. A fixed one refused to start with a short rescue_after, after
// the spec had passed validation and the dev migration had been applied (a trial).
func (a *App) builtinTimeout(def time.Duration) time.Duration {
	if half := a.Spec.Jobs.RescueAfter / 2; half > 0 && half < def {
		return half
	}
	return def
}

// checkHandlers names the Go handlers the spec's triggers, schedules or incoming webhooks name
// and cfg.Extensions does not register — each at its position. New refuses them before the
// database is opened when the process runs workers (found while wiring the queue, it stopped
// kiln serve --dev only after the dev migration had been applied: a trial), RunWorkers always;
// a process that runs no workers (kiln users, keys, seed, test) does not care. The errors say
// how to register it.
func checkHandlers(cfg Config, s *spec.Spec) error {
	x := cfg.Extensions
	if x == nil {
		x = &Extensions{}
	}
	var errs []error
	missing := func(pos spec.Pos, what, name, register string, ok bool) {
		if name != "" && !ok {
			errs = append(errs, fmt.Errorf("%s: %s names handler %s, a Go function this process does not register: register it with Extensions.%s(%q, fn), or serve with --workers=false and work the jobs in your Go program",
				pos, what, name, register, name))
		}
	}
	for _, r := range s.Resources {
		for _, t := range r.Triggers {
			missing(t.HandlerPos, "trigger "+t.Name+" of "+r.Name, t.Handler, "Job", x.jobs[t.Handler] != nil)
		}
	}
	for _, sc := range s.Schedules {
		missing(sc.HandlerPos, "schedule "+sc.Name, sc.Handler, "Scheduled", x.schedules[sc.Handler] != nil)
	}
	for _, in := range s.Webhooks.Incoming {
		missing(in.At("handler"), "incoming webhook "+in.Name, in.Handler, "Webhook", in.Payments || x.hooks[in.Handler] != nil)
	}
	return errors.Join(errs...)
}
