package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Errors of incoming webhooks; each is a stable code for the answer.
var (
	ErrBadSignature = errors.New("the webhook signature does not verify")
	ErrStale        = errors.New("the webhook timestamp is outside the tolerance")
	ErrNoEventID    = errors.New("the webhook carries no event id")
	// ErrMalformed is a request that is no webhook of its scheme's shape: the errors wrapping it
	// say what is wrong (a timestamp that is no Unix time, an event id too long, a body an
	// action cannot read).
	ErrMalformed  = errors.New("the webhook is malformed")
	ErrNoEndpoint = errors.New("no incoming webhook has this name")
	// ErrNoSecret is an endpoint whose secret_env variable is unset or empty: it verifies
	// nothing, so it accepts nothing until the variable is set (the server starts anyway).
	ErrNoSecret = errors.New("this webhook endpoint has no secret configured: it accepts no events until one is set")
)

// maxEventID bounds the event ids kept for de-duplication.
const maxEventID = 255

// Incoming is a verified event as its job carries it.
type Incoming struct {
	Endpoint   string          `json:"endpoint"`
	EventID    string          `json:"event_id"`
	Type       string          `json:"type,omitempty"`
	Payload    json.RawMessage `json:"payload"`
	ReceivedAt time.Time       `json:"received_at"`
}

// Received is what Receive did.
type Received struct {
	EventID   string
	Duplicate bool // the event id was seen before: no second job
	JobID     int64
}

// Receive verifies a request to an incoming endpoint and, once per event id, enqueues its
// job: the id is recorded in the transaction that inserts the job, so a repeated event is
// acknowledged without a second job.
func (w *Webhooks) Receive(ctx context.Context, name string, h http.Header, body []byte) (*Received, error) {
	in := w.incoming[name]
	if in == nil {
		return nil, ErrNoEndpoint
	}
	v, _ := w.cfg.LookupEnv(in.SecretEnv)
	secrets := strings.Fields(v)
	if len(secrets) == 0 {
		return nil, ErrNoSecret
	}
	var id string
	var err error
	switch in.Scheme {
	case spec.SchemeStripe:
		id, err = w.verifyStripe(in, secrets, h.Get("Stripe-Signature"), body)
	default:
		id, err = w.verifyStandard(in, secrets, h, body)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case id == "":
		return nil, ErrNoEventID
	case len(id) > maxEventID:
		return nil, fmt.Errorf("%w: its event id is longer than %d bytes", ErrMalformed, maxEventID)
	case in.Handler == "" && !json.Valid(body):
		// an action (or the payments) reads the event's JSON; only a Go handler takes any body
		return nil, fmt.Errorf("%w: its body is not JSON, which this endpoint reads", ErrMalformed)
	}
	return w.record(ctx, in, id, body)
}

func (w *Webhooks) record(ctx context.Context, in *spec.IncomingWebhook, id string, body []byte) (*Received, error) {
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &head)
	payload := json.RawMessage(body)
	if !json.Valid(body) {
		payload, _ = json.Marshal(string(body))
	}
	out := &Received{EventID: id}
	err := w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		now := w.now()
		n, err := tx.ExecRawCount(ctx, "INSERT INTO kiln_webhook_inbox (endpoint, event_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", in.Name, id, now.UnixMicro())
		if err != nil {
			return fmt.Errorf("record incoming webhook: %w", err)
		}
		if n == 0 {
			out.Duplicate = true
			return nil
		}
		args := Incoming{Endpoint: in.Name, EventID: id, Type: head.Type, Payload: payload, ReceivedAt: now}
		if out.JobID, err = w.cfg.Queue.EnqueueTx(ctx, tx, jobs.Request{Kind: in.Kind(), Args: args}); err != nil {
			return fmt.Errorf("enqueue incoming webhook: %w", err)
		}
		return tx.ExecRaw(ctx, "UPDATE kiln_webhook_inbox SET job_id = ? WHERE endpoint = ? AND event_id = ?", out.JobID, in.Name, id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// verifyStandard checks Standard Webhooks headers with the library's verifier and the
// endpoint's tolerance against the injected clock; the event id is webhook-id.
func (w *Webhooks) verifyStandard(in *spec.IncomingWebhook, secrets []string, h http.Header, body []byte) (string, error) {
	raw := h.Get("webhook-timestamp")
	if raw == "" {
		return "", ErrBadSignature // no Standard Webhooks headers at all
	}
	ts, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: its webhook-timestamp is not a whole number of seconds since 1970", ErrMalformed)
	}
	if !w.fresh(time.Unix(ts, 0), in.Tolerance) {
		return "", ErrStale
	}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err == nil && wh.VerifyIgnoringTimestamp(body, h) == nil {
			return h.Get("webhook-id"), nil
		}
	}
	return "", ErrBadSignature
}

// verifyStripe checks Stripe-Signature ("t=<unix>,v1=<hex HMAC-SHA256 of t.body>", several
// v1 while Stripe rolls a secret); the event id is the body's id.
func (w *Webhooks) verifyStripe(in *spec.IncomingWebhook, secrets []string, header string, body []byte) (string, error) {
	var ts int64 = -1
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				ts = n
			}
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if ts < 0 || len(sigs) == 0 {
		return "", ErrBadSignature
	}
	if !w.fresh(time.Unix(ts, 0), in.Tolerance) {
		return "", ErrStale
	}
	if !stripeMatch(secrets, ts, body, sigs) {
		return "", ErrBadSignature
	}
	var ev struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &ev)
	return ev.ID, nil
}

func stripeMatch(secrets []string, ts int64, body []byte, sigs [][]byte) bool {
	for _, s := range secrets {
		mac := hmac.New(sha256.New, []byte(s))
		mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return true
			}
		}
	}
	return false
}

func (w *Webhooks) fresh(at time.Time, tolerance time.Duration) bool {
	d := w.now().Sub(at)
	return d <= tolerance && d >= -tolerance
}

// Endpoint returns an incoming endpoint by name.
func (w *Webhooks) Endpoint(name string) *spec.IncomingWebhook { return w.incoming[name] }
