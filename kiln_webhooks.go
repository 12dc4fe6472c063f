package kiln

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/service"
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
		kinds = append(kinds, jobs.Kind{Name: webhooks.KindDeliver, Timeout: a.builtinTimeout(30 * time.Second),
			Handle:    func(ctx context.Context, j *jobs.Job) error { return a.webhooks.Deliver(ctx, j) },
			Backoff:   func(n int) time.Duration { return a.webhooks.Backoff(n) },
			Cancelled: func(ctx context.Context, j *jobs.Job) error { return a.webhooks.Cancelled(ctx, j) }})
	}
	used := map[string]bool{}
	for _, in := range a.Spec.Webhooks.Incoming {
		h, err := a.incomingHandler(cfg, in)
		if err != nil {
			return nil, err
		}
		if in.Handler != "" {
			used[in.Handler] = true
		}
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

func (a *App) incomingHandler(cfg Config, in *spec.IncomingWebhook) (jobs.Handler, error) {
	if in.Action != nil {
		return a.incomingAction(in.Action), nil
	}
	if in.Payments {
		return a.paymentEvents(), nil
	}
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

// incomingAction runs the spec's action on the record whose id the event carries at the
// declared path, on Kiln's own authority (the action's steps, rules and state machine
// apply). An event without the id, or an answer waiting cannot change, cancels the job.
func (a *App) incomingAction(act *spec.IncomingAction) jobs.Handler {
	return func(ctx context.Context, j *jobs.Job) error {
		var args webhooks.Incoming
		if err := json.Unmarshal(j.Args, &args); err != nil {
			return jobs.Permanent(fmt.Errorf("decode the job's args: %w", err))
		}
		id, ok := jsonPath(args.Payload, act.RecordID)
		if !ok {
			return jobs.Permanent(fmt.Errorf("the event has no string at %s", act.RecordID))
		}
		_, err := a.Service.Action(service.AsSystem(ctx), act.Resource, id, act.Name, nil, service.WriteOpts{})
		return jobError(err)
	}
}

// jsonPath reads the string at a dotted path of a JSON object.
func jsonPath(raw json.RawMessage, path string) (string, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v = m[key]
	}
	s, ok := v.(string)
	return s, ok && s != ""
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
	if cfg.Admin {
		return nil
	}
	warnSecrets(cfg, wh)
	if err := w.Sync(ctx); err != nil {
		return err
	}
	return warnStale(ctx, w, cfg.Logger)
}

// warnSecrets says at start which of the spec's webhooks have no usable secret in their
// variable: an incoming endpoint without one answers 503 webhook_not_configured, one with a
// malformed Standard Webhooks secret verifies nothing, and an outgoing subscription's every
// delivery fails until the variable is fixed. The values are never logged.
func warnSecrets(cfg Config, wh spec.Webhooks) {
	if cfg.Logger == nil {
		return
	}
	for _, in := range wh.Incoming {
		v, _ := cfg.LookupEnv(in.SecretEnv)
		switch {
		case strings.TrimSpace(v) == "":
			cfg.Logger.Warn("incoming webhook has no secret: it answers 503 webhook_not_configured until the variable is set",
				"webhook", in.Name, "path", in.Path, "secret_env", in.SecretEnv)
		case in.Scheme != spec.SchemeStripe && webhooks.SecretsProblem(v) != "":
			cfg.Logger.Warn("incoming webhook's secret is not a Standard Webhooks secret: no request verifies until it is fixed",
				"webhook", in.Name, "path", in.Path, "secret_env", in.SecretEnv, "problem", webhooks.SecretsProblem(v))
		}
	}
	for _, s := range wh.Subscriptions {
		v, _ := cfg.LookupEnv(s.SecretEnv)
		if problem := webhooks.SecretsProblem(v); problem != "" {
			cfg.Logger.Warn("webhook subscription has no usable secret: every delivery fails until the variable is fixed",
				"webhook", s.Name, "secret_env", s.SecretEnv, "problem", problem)
		}
	}
}

// warnStale says at start which stored subscriptions' conditions no longer compile: they
// refuse the writes they are matched against until changed, which the log should say before
// a client's 409 does.
func warnStale(ctx context.Context, w *webhooks.Webhooks, log *slog.Logger) error {
	stale, err := w.Stale(ctx)
	if err != nil || log == nil {
		return err
	}
	for name, problem := range stale {
		log.Error("webhook subscription's when: no longer compiles against the spec: the writes it is matched against are refused (409 logic_failed) until it is changed or deleted",
			"webhook", name, "problem", problem)
	}
	return nil
}
