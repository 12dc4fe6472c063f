package kiln

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
)

// IncomingWebhook is a verified event an incoming endpoint received, as its Go handler
// sees it. The same event id is handed over once (a repeated delivery is acknowledged
// without a job), but the job itself may run more than once: make the handler idempotent.
type IncomingWebhook struct {
	JobID    int64
	Attempt  int
	Endpoint string
	EventID  string
	// Type is the body's "type", when it has one.
	Type       string
	Payload    json.RawMessage
	ReceivedAt time.Time
}

// WebhookFunc handles the events of an incoming webhook endpoint. An error fails the
// attempt: the job is retried after a backoff; Permanent(err) gives up at once.
type WebhookFunc func(ctx context.Context, in IncomingWebhook) error

// Webhook registers the Go handler that incoming_webhooks entries declaring handler: name
// run.
func (x *Extensions) Webhook(name string, fn WebhookFunc) {
	if x.hooks == nil {
		x.hooks = map[string]WebhookFunc{}
	}
	x.hooks[name] = fn
}

// webhookKinds are the job kinds of outgoing deliveries and of each incoming endpoint.
func (a *App) webhookKinds(cfg Config) ([]jobs.Kind, error) {
	var kinds []jobs.Kind
	if a.Spec.Webhooks.Enabled {
		kinds = append(kinds, jobs.Kind{Name: webhooks.KindDeliver, Timeout: 30 * time.Second,
			Handle:  func(ctx context.Context, j *jobs.Job) error { return a.webhooks.Deliver(ctx, j) },
			Backoff: func(n int) time.Duration { return a.webhooks.Backoff(n) }})
	}
	used := map[string]bool{}
	for _, in := range a.Spec.Webhooks.Incoming {
		h, err := incomingHandler(cfg, in)
		if err != nil {
			return nil, err
		}
		used[in.Handler] = true
		kinds = append(kinds, jobs.Kind{Name: in.Kind(), Handle: h})
	}
	if x := cfg.Extensions; x != nil {
		for name := range x.hooks {
			if !used[name] {
				return nil, fmt.Errorf("Extensions.Webhook: no incoming_webhooks entry of the spec declares handler: %s", name)
			}
		}
	}
	return kinds, nil
}

func incomingHandler(cfg Config, in *spec.IncomingWebhook) (jobs.Handler, error) {
	var fn WebhookFunc
	if cfg.Extensions != nil {
		fn = cfg.Extensions.hooks[in.Handler]
	}
	if fn == nil && cfg.NoWorkers {
		return func(context.Context, *jobs.Job) error {
			return fmt.Errorf("handler %s is not registered in this process", in.Handler)
		}, nil
	}
	if fn == nil {
		return nil, fmt.Errorf("incoming webhook %s names handler %s: register it with Extensions.Webhook(%q, fn), or serve with workers off and run them in your Go program", in.Name, in.Handler, in.Handler)
	}
	return func(ctx context.Context, j *jobs.Job) error {
		var args webhooks.Incoming
		if err := json.Unmarshal(j.Args, &args); err != nil {
			return jobs.Permanent(fmt.Errorf("decode the job's args: %w", err))
		}
		return fn(ctx, IncomingWebhook{JobID: j.ID, Attempt: j.Attempt, Endpoint: args.Endpoint, EventID: args.EventID,
			Type: args.Type, Payload: args.Payload, ReceivedAt: args.ReceivedAt})
	}, nil
}

// newWebhooks wires outgoing and incoming webhooks on the queue and stores the spec's
// subscriptions.
func (a *App) newWebhooks(ctx context.Context, cfg Config) error {
	wh := a.Spec.Webhooks
	if !wh.Enabled && len(wh.Incoming) == 0 {
		return nil
	}
	w, err := webhooks.New(webhooks.Config{Store: a.Store, Queue: a.Jobs, Spec: a.Spec, LookupEnv: cfg.LookupEnv,
		CheckCondition: a.compiled.logic.CheckCondition, Logger: cfg.Logger, Schedule: cfg.webhookSchedule})
	if err != nil {
		return err
	}
	a.webhooks = w
	return w.Sync(ctx)
}
