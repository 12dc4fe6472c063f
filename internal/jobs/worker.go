package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// dynArgs carries any kind's args: River learns the kind from the value, not its type, so
// one Go type serves every kind a spec declares.
type dynArgs struct {
	kind string
	raw  json.RawMessage
	// wait is set by Work from a RetryAfter error, for NextRetry on the same job.
	wait time.Duration
}

func (a dynArgs) Kind() string                 { return a.kind }
func (a dynArgs) MarshalJSON() ([]byte, error) { return a.raw, nil }
func (a *dynArgs) UnmarshalJSON(b []byte) error {
	a.raw = append(json.RawMessage(nil), b...)
	return nil
}

// worker runs one kind's handler.
type worker struct {
	river.WorkerDefaults[dynArgs]
	q        *Queue
	kind     Kind
	periodic bool
}

func (w *worker) Work(ctx context.Context, j *river.Job[dynArgs]) error {
	job := toJob(j.JobRow)
	if w.periodic {
		tick, err := TickOf(job)
		if err != nil {
			return river.JobCancel(err)
		}
		if err := recordTick(ctx, w.q.cfg.Store, job.Kind, tick); err != nil {
			return err
		}
	}
	err := w.kind.Handle(ctx, job)
	if err != nil {
		w.logFailure(ctx, job, err)
	}
	var p *permanent
	if errors.As(err, &p) {
		return river.JobCancel(p.err)
	}
	var ra *retryAfter
	if errors.As(err, &ra) {
		j.Args.wait = ra.d
	}
	return err
}

// logFailure tells the operator a run failed: a warning while it will be retried, an error when
// it will not (River's own line about it is informational).
func (w *worker) logFailure(ctx context.Context, job *Job, err error) {
	log := w.q.cfg.Logger
	if log == nil {
		return
	}
	var p *permanent
	last := errors.As(err, &p) || job.Attempt >= job.MaxAttempts
	level, msg := slog.LevelWarn, "job failed; it will be retried"
	if last {
		level, msg = slog.LevelError, "job failed; it will not be retried"
	}
	log.Log(ctx, level, msg, "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt,
		"max_attempts", job.MaxAttempts, "error", err.Error())
}

func (w *worker) Timeout(*river.Job[dynArgs]) time.Duration {
	if w.kind.Timeout > 0 {
		return w.kind.Timeout
	}
	return w.q.defaultTimeout()
}

// NextRetry waits the kind's Backoff, or RetryBase·2^(attempt-1) (at most RetryMax, with
// ±10% jitter); at least what a RetryAfter error asked for.
func (w *worker) NextRetry(j *river.Job[dynArgs]) time.Time {
	var d time.Duration
	if w.kind.Backoff != nil {
		d = w.kind.Backoff(j.Attempt)
	} else {
		d = w.q.backoff(j.Attempt)
	}
	// River takes a time not after now for "use the default policy": keep it just ahead.
	return time.Now().Add(max(d, j.Args.wait, time.Millisecond))
}

func (q *Queue) backoff(attempt int) time.Duration {
	d := q.cfg.RetryBase
	for i := 1; i < attempt && d < q.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, q.cfg.RetryMax)
	return d + time.Duration((q.cfg.Jitter()*0.2-0.1)*float64(d))
}

func toJob(r *rivertype.JobRow) *Job {
	j := &Job{ID: r.ID, Kind: r.Kind, Queue: r.Queue, State: stateName(r.State), Priority: r.Priority, Attempt: r.Attempt,
		MaxAttempts: r.MaxAttempts, Args: json.RawMessage(r.EncodedArgs), CreatedAt: r.CreatedAt, ScheduledAt: r.ScheduledAt,
		AttemptedAt: r.AttemptedAt, FinalizedAt: r.FinalizedAt}
	for _, e := range r.Errors {
		j.Errors = append(j.Errors, AttemptError{At: e.At, Attempt: e.Attempt, Error: strings.TrimPrefix(e.Error, riverCancelPrefix)})
	}
	return j
}

// riverCancelPrefix is what River puts before the error of a job its handler cancelled
// (Permanent): the name of its Go error type, which the jobs API and CLI do not show.
const riverCancelPrefix = "JobCancelError: "

func stateName(s rivertype.JobState) string {
	if s == rivertype.JobStateDiscarded {
		return StateDead
	}
	return string(s)
}

func riverState(s string) rivertype.JobState {
	if s == StateDead {
		return rivertype.JobStateDiscarded
	}
	return rivertype.JobState(s)
}
