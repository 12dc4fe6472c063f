package kiln

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// ScheduleRun is one run of a schedule as a Go handler sees it.
type ScheduleRun struct {
	ID       int64
	Attempt  int
	Schedule string
	// Tick is the time the run is for (the cron tick), not the time it started.
	Tick time.Time
	// Records reads and writes records on Kiln's own authority, as Job.Records does.
	Records *Records
}

// ScheduleFunc handles a schedule's runs. A run may happen more than once for one tick (at
// least once): make it idempotent. An error fails the attempt, retried after a backoff.
type ScheduleFunc func(ctx context.Context, run ScheduleRun) error

// Scheduled registers the Go handler that schedules declaring handler: name run.
func (x *Extensions) Scheduled(name string, fn ScheduleFunc) {
	if x.schedules == nil {
		x.schedules = map[string]ScheduleFunc{}
	}
	x.schedules[name] = fn
}

// scheduleKinds builds a job kind and a periodic entry per schedule of the spec.
func (a *App) scheduleKinds(cfg Config) ([]jobs.Kind, []jobs.Periodic, error) {
	var kinds []jobs.Kind
	var periodic []jobs.Periodic
	used := map[string]bool{}
	for _, sc := range a.Spec.Schedules {
		h, err := a.scheduleHandler(cfg, sc)
		if err != nil {
			return nil, nil, err
		}
		used[sc.Handler] = true
		kinds = append(kinds, jobs.Kind{Name: sc.Kind(), Timeout: sc.Timeout, Handle: h})
		periodic = append(periodic, jobs.Periodic{Kind: sc.Kind(), Next: sc.Next, Queue: sc.Queue, Priority: sc.Priority,
			MaxAttempts: sc.MaxAttempts, CatchUp: sc.CatchUp})
	}
	if x := cfg.Extensions; x != nil {
		for name := range x.schedules {
			if !used[name] {
				return nil, nil, fmt.Errorf("Extensions.Scheduled: no schedule of the spec declares handler: %s", name)
			}
		}
	}
	return kinds, periodic, nil
}

// scheduleHandler is what runs a schedule's jobs: cleanups, an update, or a Go handler.
func (a *App) scheduleHandler(cfg Config, sc *spec.Schedule) (jobs.Handler, error) {
	switch {
	case len(sc.Cleanup) > 0:
		return func(ctx context.Context, j *jobs.Job) error {
			tick, err := jobs.TickOf(j)
			if err != nil {
				return jobs.Permanent(err)
			}
			return a.cleanup(ctx, sc, tick)
		}, nil
	case sc.Update != nil:
		return func(ctx context.Context, j *jobs.Job) error { return a.scheduledUpdate(ctx, sc, j) }, nil
	}
	var fn ScheduleFunc
	if cfg.Extensions != nil {
		fn = cfg.Extensions.schedules[sc.Handler]
	}
	if fn == nil && cfg.NoWorkers {
		return func(context.Context, *jobs.Job) error {
			return fmt.Errorf("handler %s is not registered in this process", sc.Handler)
		}, nil
	}
	if fn == nil {
		return nil, fmt.Errorf("schedule %s names handler %s: register it with Extensions.Scheduled(%q, fn), or serve with workers off and run them in your Go program", sc.Name, sc.Handler, sc.Handler)
	}
	return func(ctx context.Context, j *jobs.Job) error {
		tick, err := jobs.TickOf(j)
		if err != nil {
			return jobs.Permanent(err)
		}
		return fn(ctx, ScheduleRun{ID: j.ID, Attempt: j.Attempt, Schedule: sc.Name, Tick: tick, Records: &Records{svc: a.Service, system: true}})
	}, nil
}

// scheduledUpdate runs an update schedule as of its tick, so a retried run selects by the
// same clock.
func (a *App) scheduledUpdate(ctx context.Context, sc *spec.Schedule, j *jobs.Job) error {
	tick, err := jobs.TickOf(j)
	if err != nil {
		return jobs.Permanent(err)
	}
	rep, err := a.Service.ScheduledUpdate(ctx, sc.Kind(), tick)
	a.logUpdate(ctx, j.Kind, rep)
	return jobError(err)
}

// logUpdate logs what an update job did, and each record that refused it.
func (a *App) logUpdate(ctx context.Context, kind string, rep *service.UpdateReport) {
	if rep == nil {
		return
	}
	level := slog.LevelInfo
	if rep.Matched == 0 {
		level = slog.LevelDebug
	}
	a.log.Log(ctx, level, "update ran", "kind", kind, "matched", rep.Matched, "changed", rep.Changed, "refused", len(rep.Refused))
	for id, why := range rep.Refused {
		if why.Code == service.CodeLogicFailed { // the spec's logic, not the record: the log names the expression
			a.log.WarnContext(ctx, "update: logic could not be computed for a record", "kind", kind, "id", id,
				"code", string(why.Code), "message", why.Message, "error", why.Cause)
			continue
		}
		a.log.InfoContext(ctx, "update: a record refused it", "kind", kind, "id", id, "code", string(why.Code),
			"message", why.Message, "fields", refusedFields(why.Fields))
	}
}

// refusedFields names each field error of a refusal, with the rule that failed: "state:
// rule (rule vip_stays)"; "" when there are none.
func refusedFields(errs []service.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + ": " + e.Code
		if e.Rule != "" {
			parts[i] += " (rule " + e.Rule + ")"
		}
	}
	return strings.Join(parts, "; ")
}

// cleanup runs a schedule's built-in cleanups; each is idempotent, so a retry redoes
// only what is left.
func (a *App) cleanup(ctx context.Context, sc *spec.Schedule, now time.Time) error {
	var errs []error
	for _, k := range sc.Cleanup {
		n, err := a.cleanupOne(ctx, k, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("cleanup %s: %w", k, err))
			continue
		}
		a.log.InfoContext(ctx, "cleanup ran", "schedule", sc.Name, "cleanup", k, "deleted", n)
	}
	return errors.Join(errs...)
}

func (a *App) cleanupOne(ctx context.Context, kind string, now time.Time) (int64, error) {
	switch kind {
	case spec.CleanupRefreshTokens:
		return auth.DeleteExpiredSessions(ctx, a.Store, now)
	case spec.CleanupActionTokens:
		return auth.DeleteExpiredActionTokens(ctx, a.Store, now)
	case spec.CleanupIdempotency:
		return a.idem.Cleanup(ctx)
	case spec.CleanupEvents:
		return events.Sweep(ctx, a.Store, now.Add(-a.Spec.Jobs.EventsRetention))
	case spec.CleanupSoftDeleted:
		return a.purgeAll(ctx, now)
	}
	return 0, jobs.Permanent(fmt.Errorf("unknown cleanup %q", kind))
}
