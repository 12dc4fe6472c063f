package spec

import (
	"time"

	"github.com/kiln-dev/kiln/internal/mail"
)

// Jobs configures the events outbox and the job queue (docs/jobs.md).
type Jobs struct {
	// EventsRetention is how long rows of the events outbox are kept (default 7 days).
	EventsRetention time.Duration
	// Workers bounds the jobs the default queue runs at once in one process (default 10).
	Workers int
	// Queues are further queues by name with their own worker counts.
	Queues map[string]int
	// RetryBase and RetryMax shape the backoff: attempt n waits RetryBase·2^(n-1), ±10%
	// jitter, at most RetryMax (defaults 1s and 1h).
	RetryBase, RetryMax time.Duration
	retryPos            Pos // where the spec sets the first of them
	// RescueAfter is how long a job may stay running before it is taken for lost (its
	// process died) and run again (default 1h; at least the longest timeout).
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for new jobs (default 1s); on
	// PostgreSQL notifications wake them sooner.
	PollInterval time.Duration
	// CompletedRetention is how long finished jobs are kept (default 24h).
	CompletedRetention time.Duration
}

// Defaults of the jobs block.
const (
	DefaultEventsRetention = 7 * 24 * time.Hour
	DefaultJobWorkers      = 10
	DefaultRetryBase       = time.Second
	DefaultRetryMax        = time.Hour
	DefaultRescueAfter     = time.Hour
	DefaultPollInterval    = time.Second
	DefaultJobRetention    = 24 * time.Hour
	DefaultJobTimeout      = time.Minute
	DefaultMaxAttempts     = 10
)

// DefaultJobs are the settings of a spec without a jobs block.
func DefaultJobs() Jobs {
	return Jobs{EventsRetention: DefaultEventsRetention, Workers: DefaultJobWorkers, RetryBase: DefaultRetryBase,
		RetryMax: DefaultRetryMax, RescueAfter: DefaultRescueAfter, PollInterval: DefaultPollInterval,
		CompletedRetention: DefaultJobRetention}
}

// Trigger runs a job when an event of its resource happens and its condition holds over the
// record before (old) and after (new) the write. Exactly one of Mail, Action, Update and
// Handler is set.
type Trigger struct {
	Pos  Pos
	Name string
	// On lists create, update, delete and names of the resource's actions.
	On   []string
	When Expr
	// Mail sends an email through the app's mail sender; its parts are CEL strings computed
	// when the event is written.
	Mail *TriggerMail
	// Action runs the named action of the resource on the record, on the system's authority.
	Action string
	// ActionPos places errors about Action in its value.
	ActionPos Pos
	// Update changes the records of another (or the same) resource that its filter — CEL
	// over that resource's fields, with old, new and auth of the event — selects when the
	// event is written; the job changes them afterwards, each in its own transaction.
	Update *ScheduleUpdate
	// Handler names a Go job handler registered through kiln.Extensions.Job; HandlerPos is
	// where it is written.
	Handler    string
	HandlerPos Pos
	JobOptions
}

// JobOptions tune the jobs of a trigger or a schedule.
type JobOptions struct {
	Queue       string
	Priority    int // 1 (first) … 4
	MaxAttempts int
	Timeout     time.Duration
	// ValuePos places errors about each option in its value, by key.
	ValuePos map[string]Pos
}

// at is where option key's value is, or def when it is not given.
func (o JobOptions) at(key string, def Pos) Pos {
	if p, ok := o.ValuePos[key]; ok {
		return p
	}
	return def
}

// TriggerMail is a mail trigger's message.
type TriggerMail struct {
	Pos     Pos
	To      Expr
	Subject Expr
	Text    Expr
	// Template is a template file (relative to the spec) defining subject, text and html,
	// rendered with the event's records; Loaded is it parsed, once the spec is valid.
	Template    string
	TemplatePos Pos
	Loaded      *mail.Template
}

// Kind is the job kind a trigger's jobs carry: "trigger.<resource>.<name>".
func (t *Trigger) Kind(resource string) string { return "trigger." + resource + "." + t.Name }

// Fires reports whether the trigger listens to the event op (create, update, delete or an
// action's name).
func (t *Trigger) Fires(op string) bool {
	for _, o := range t.On {
		if o == op {
			return true
		}
	}
	return false
}
