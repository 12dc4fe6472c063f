// Package jobs is Kiln's durable job queue: River (riverqueue/river) in the app's own
// database, behind a small interface so that handlers, the CLI and tests never import River.
// Jobs are staged (StageTx) or enqueued (EnqueueTx) through the transaction of the write that
// causes them: a rolled-back write leaves no job, a committed one always has its job. Workers run them at
// least once, with exponential backoff and jitter between attempts, per-kind timeouts and
// attempt limits; a job out of attempts is dead (River's "discarded") until retried.
//
// On SQLite, River shares the store's single writer connection (docs/jobs.md says why that
// cannot deadlock); on PostgreSQL, jobs are inserted through the app's database/sql
// transaction and worked by a pgx-native client on the store's pool.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// Job is a job as handlers, the CLI and the admin API see it.
type Job struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Queue       string          `json:"queue"`
	State       string          `json:"state"`
	Priority    int             `json:"priority"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Args        json.RawMessage `json:"args"`
	Errors      []AttemptError  `json:"errors,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	AttemptedAt *time.Time      `json:"attempted_at,omitempty"`
	FinalizedAt *time.Time      `json:"finalized_at,omitempty"`
}

// AttemptError is the error of one failed attempt.
type AttemptError struct {
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
	Error   string    `json:"error"`
}

// States a job can be in. Dead is River's "discarded": out of attempts.
const (
	StateAvailable = "available"
	StateScheduled = "scheduled"
	StateRunning   = "running"
	StateRetryable = "retryable"
	StateCompleted = "completed"
	StateCancelled = "cancelled"
	StateDead      = "dead"
	StatePending   = "pending"
)

// States lists every state, for validation of filters.
var States = []string{StateAvailable, StateScheduled, StateRunning, StateRetryable, StateCompleted, StateCancelled, StateDead, StatePending}

// Handler runs one job. Returning an error makes the attempt fail (retried after a
// backoff, dead after the kind's last attempt); wrap it with Permanent to give up at once.
type Handler func(ctx context.Context, j *Job) error

// Kind is how jobs of one kind run.
type Kind struct {
	Name    string
	Timeout time.Duration // default 1m
	Handle  Handler
	// Backoff, when set, is how long to wait after failed attempt n (1-based) instead of
	// the queue's exponential backoff.
	Backoff func(attempt int) time.Duration
	// Cancelled, when set, is called after Cancel cancelled a job of this kind that had not
	// finished (its handler will not run again): what the job kept in a state of its own is
	// settled there (a webhook message stayed 'retrying' for ever).
	Cancelled func(ctx context.Context, j *Job) error
}

// Request is a job to enqueue.
type Request struct {
	Kind        string
	Args        any // JSON-encodable
	Queue       string
	Priority    int // 1 (first) … 4; default 1
	MaxAttempts int // default 10
	// Unique refuses a second job of the kind with the same args while one is not finished:
	// the existing job's id is returned instead.
	Unique bool
}

// Config wires a Queue.
type Config struct {
	Store *store.Store
	Kinds []Kind
	// Periodic lists the kinds that run on a schedule (their Kind must be in Kinds too).
	Periodic []Periodic
	Queues   map[string]int // name → workers per process; "default" is always there
	// RetryBase and RetryMax shape the backoff: attempt n waits RetryBase·2^(n-1) ±10%.
	RetryBase, RetryMax time.Duration
	// RescueAfter: a job running longer than this is taken for lost and run again.
	RescueAfter time.Duration
	// PollInterval and FetchCooldown bound how often workers look for jobs.
	PollInterval, FetchCooldown time.Duration
	// CompletedRetention is how long completed jobs are kept.
	CompletedRetention time.Duration
	// StatsInterval is how often queue statistics are logged (default 1m; <0: never).
	StatsInterval time.Duration
	Logger        *slog.Logger
	// Jitter returns a number in [0, 1) for backoff jitter; math/rand when nil.
	Jitter func() float64
}

func (c Config) withDefaults() Config {
	if c.Queues == nil {
		c.Queues = map[string]int{}
	}
	if c.Queues[DefaultQueue] == 0 {
		c.Queues[DefaultQueue] = 10
	}
	c.RetryBase = cmpOr(c.RetryBase, time.Second)
	c.RetryMax = cmpOr(c.RetryMax, time.Hour)
	c.RescueAfter = cmpOr(c.RescueAfter, time.Hour)
	c.PollInterval = cmpOr(c.PollInterval, time.Second)
	c.FetchCooldown = cmpOr(c.FetchCooldown, 5*time.Millisecond)
	c.CompletedRetention = cmpOr(c.CompletedRetention, 24*time.Hour)
	c.StatsInterval = cmpOr(c.StatsInterval, time.Minute)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	return c
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (c Config) validate() error {
	if c.Store == nil {
		return errors.New("jobs: need a store")
	}
	seen := map[string]bool{}
	for _, k := range c.Kinds {
		if k.Name == "" || k.Handle == nil {
			return fmt.Errorf("jobs: kind %q needs a name and a handler", k.Name)
		}
		if seen[k.Name] {
			return fmt.Errorf("jobs: kind %q is registered twice", k.Name)
		}
		seen[k.Name] = true
		if k.Timeout >= c.RescueAfter {
			return fmt.Errorf("jobs: kind %s: timeout %s must be shorter than rescue_after %s", k.Name, k.Timeout, c.RescueAfter)
		}
	}
	for _, p := range c.Periodic {
		if !seen[p.Kind] || p.Next == nil {
			return fmt.Errorf("jobs: periodic kind %q needs a schedule and a handler among the kinds", p.Kind)
		}
	}
	return nil
}

// DefaultQueue is the queue of jobs that name none.
const DefaultQueue = "default"

// ErrNotFound means no job has the id.
var ErrNotFound = errors.New("no job has this id")

// ErrUnknownKind means a job of a kind no handler is registered for was enqueued.
var ErrUnknownKind = errors.New("no handler is registered for this job kind")

// permanent marks a handler error that must not be retried.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent wraps err so the job is not tried again: it is cancelled with err recorded.
func Permanent(err error) error { return &permanent{err: err} }

// retryAfter marks a handler error whose next attempt must wait at least d (an HTTP peer's
// Retry-After).
type retryAfter struct {
	err error
	d   time.Duration
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

// RetryAfter wraps err so the next attempt waits at least d: the longer of d and the
// kind's backoff.
func RetryAfter(err error, d time.Duration) error { return &retryAfter{err: err, d: d} }
