// Package webhooks sends and receives webhooks. Outgoing: subscriptions (declared in the
// spec or made through the admin API) match committed events inside the write's
// transaction, which stores the message and enqueues its delivery job; workers deliver it
// following Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), retry on
// a fixed schedule honouring Retry-After, disable a subscription answered 410, log every
// attempt and replay on request. Every connection passes an SSRF guard checked on the
// resolved address. Incoming: verified endpoints (Stripe-Signature or Standard Webhooks)
// with timestamp tolerance and event-id de-duplication in the transaction that enqueues
// the job.
package webhooks

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// KindDeliver is the job kind of outgoing deliveries.
const KindDeliver = "webhook.deliver"

// Schedule is the wait after each failed delivery attempt: the first attempt is
// immediate, then 5s, 5min, 30min, 2h, 5h, 10h and 10h (eight attempts in all).
var Schedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Queue enqueues jobs inside a transaction (jobs.Queue): StageTx on the write path (the
// relay enqueues them right after commit), EnqueueTx for replays and incoming events.
type Queue interface {
	EnqueueTx(ctx context.Context, tx *store.Exec, r jobs.Request) (int64, error)
	StageTx(ctx context.Context, tx *store.Exec, rs []jobs.Request) error
}

var _ Queue = (*jobs.Queue)(nil)

// Config wires Webhooks.
type Config struct {
	Store *store.Store
	Queue Queue
	Spec  *spec.Spec
	// LookupEnv reads the secrets the spec names; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// CheckCondition type-checks a subscription's when: for a resource (logic.Logic).
	CheckCondition func(resource, src string) error
	Logger         *slog.Logger
	Now            func() time.Time
	Rand           io.Reader
	// Resolver resolves names for the SSRF guard (net.DefaultResolver when nil).
	Resolver Resolver
	// Schedule overrides the retry waits (tests); Schedule above when nil.
	Schedule []time.Duration
	// Timeout bounds one delivery request (default 10s).
	Timeout time.Duration
	// ExcerptBytes is how much of an answer the log keeps (default 1 KiB).
	ExcerptBytes int
}

func (c Config) withDefaults() Config {
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Schedule == nil {
		c.Schedule = Schedule
	}
	c.Timeout = cmp.Or(c.Timeout, 10*time.Second)
	c.ExcerptBytes = cmp.Or(c.ExcerptBytes, 1024)
	return c
}

func (c Config) validate() error {
	if c.Store == nil || c.Queue == nil || c.Spec == nil {
		return errors.New("webhooks: need a store, a queue and the spec")
	}
	return nil
}

// Webhooks sends and receives webhooks.
type Webhooks struct {
	cfg    Config
	guard  *Guard
	client interface {
		Do(*http.Request) (*http.Response, error)
	}
	incoming map[string]*spec.IncomingWebhook
	subs     subsCache // the enabled subscriptions, keyed by their digest
}

// New builds Webhooks; Sync then stores the spec's subscriptions.
func New(cfg Config) (*Webhooks, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := NewGuard(cfg.Spec.Webhooks.AllowNetworks, cfg.Resolver)
	w := &Webhooks{cfg: cfg, guard: g, client: g.Client(cfg.Timeout), incoming: map[string]*spec.IncomingWebhook{}}
	for _, in := range cfg.Spec.Webhooks.Incoming {
		w.incoming[in.Name] = in
	}
	return w, nil
}

// MaxAttempts is how many times one message is tried.
func (w *Webhooks) MaxAttempts() int { return len(w.cfg.Schedule) + 1 }

// Backoff is the wait after failed attempt n (1-based).
func (w *Webhooks) Backoff(n int) time.Duration {
	s := w.cfg.Schedule
	if len(s) == 0 {
		return time.Second
	}
	return s[min(max(n, 1), len(s))-1]
}

// Enabled reports whether the spec turns outgoing webhooks on (a webhooks: key).
func (w *Webhooks) Enabled() bool { return w.cfg.Spec.Webhooks.Enabled }

func (w *Webhooks) now() time.Time { return w.cfg.Now().UTC() }
