package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/store"
)

// Message states.
const (
	StatePending   = "pending"
	StateRetrying  = "retrying"
	StateDelivered = "delivered"
	StateFailed    = "failed"
)

// message is a stored delivery: the same id and body on every attempt.
type message struct {
	ID, Type, Body string
	SubID, EventID int64
	Attempts       int // made so far, by every chain of attempts
}

// result is the outcome of one attempt.
type result struct {
	status     int
	latency    time.Duration
	excerpt    string
	err        error
	retryAfter time.Duration
}

// Deliver is the webhook.deliver job: one attempt at sending one message.
func (w *Webhooks) Deliver(ctx context.Context, j *jobs.Job) error {
	var args deliverArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return jobs.Permanent(fmt.Errorf("decode the delivery's args: %w", err))
	}
	m, s, err := w.load(ctx, args.Message)
	if errors.Is(err, ErrNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil {
		return err
	}
	goAhead, claim := turn(args, j.Attempt, m.Attempts)
	if goAhead && claim {
		if goAhead, err = w.claim(ctx, m); err != nil {
			return err
		}
	}
	if !goAhead {
		// a replay's chain has sent it since this chain was enqueued, or is sending it now: it
		// goes on alone
		w.cfg.Logger.InfoContext(ctx, "webhook delivery superseded by a replay", "message_id", m.ID, "job_id", j.ID)
		return nil
	}
	if !s.Enabled {
		off := errors.New("the subscription is disabled")
		if err := w.finish(ctx, m, j.Attempt, StateFailed, result{err: off}); err != nil {
			return err
		}
		return jobs.Permanent(off)
	}
	res := w.send(ctx, m, s)
	return w.outcome(ctx, m, s, j, res)
}

// outcome logs the attempt and tells the queue what comes next.
func (w *Webhooks) outcome(ctx context.Context, m *message, s *Subscription, j *jobs.Job, res result) error {
	switch {
	case res.err == nil && res.status >= 200 && res.status < 300:
		return w.finish(ctx, m, j.Attempt, StateDelivered, res)
	case res.status == http.StatusGone:
		err := w.finish(ctx, m, j.Attempt, StateFailed, res)
		if err == nil {
			err = w.disable(ctx, s, "the endpoint answered 410 Gone")
		}
		if err != nil {
			return err
		}
		w.cfg.Logger.WarnContext(ctx, "webhook subscription disabled", "webhook", s.Name, "reason", "410 Gone", "message_id", m.ID)
		return jobs.Permanent(errors.New("410 Gone: the subscription is disabled"))
	}
	state := StateRetrying
	if j.Attempt >= j.MaxAttempts {
		state = StateFailed
	}
	if err := w.finish(ctx, m, j.Attempt, state, res); err != nil {
		return err
	}
	failed := res.err
	if failed == nil {
		failed = fmt.Errorf("the endpoint answered %d", res.status)
	}
	if res.retryAfter > 0 {
		return jobs.RetryAfter(failed, res.retryAfter)
	}
	return failed
}

func (w *Webhooks) load(ctx context.Context, id string) (*message, *Subscription, error) {
	ex := w.cfg.Store.Reader()
	rows, err := ex.QueryRaw(ctx, "SELECT id, event_type, body, subscription_id, event_id, attempts FROM kiln_webhook_messages WHERE id = ?", id)
	if err != nil {
		return nil, nil, fmt.Errorf("read webhook message: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, nil, errors.Join(ErrNotFound, rows.Err())
	}
	var m message
	if err := rows.Scan(&m.ID, &m.Type, &m.Body, &m.SubID, &m.EventID, &m.Attempts); err != nil {
		return nil, nil, fmt.Errorf("read webhook message: %w", err)
	}
	rows.Close()
	subs, err := querySubs(ctx, ex, "WHERE id = ?", m.SubID)
	if err != nil {
		return nil, nil, err
	}
	if len(subs) == 0 {
		return nil, nil, ErrNotFound
	}
	return &m, subs[0], nil
}

// secrets are the secrets that sign a subscription's deliveries now.
func (w *Webhooks) secrets(s *Subscription) ([]Secret, error) {
	if s.Source == SourceSpec {
		v, _ := w.cfg.LookupEnv(s.SecretEnv)
		if problem := SecretsProblem(v); problem != "" {
			return nil, fmt.Errorf("webhook %s: the environment variable %s %s", s.Name, s.SecretEnv, problem)
		}
		return splitSecrets(v), nil
	}
	out := []Secret{s.secret}
	if s.previous != "" && w.now().Before(s.previousUntil) {
		out = append(out, s.previous)
	}
	return out, nil
}

// send makes one attempt: sign, post, read the first bytes of the answer.
func (w *Webhooks) send(ctx context.Context, m *message, s *Subscription) result {
	secrets, err := w.secrets(s)
	if err != nil {
		return result{err: err}
	}
	at := w.now()
	sig, err := Sign(secrets, m.ID, at, []byte(m.Body))
	if err != nil {
		return result{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader([]byte(m.Body)))
	if err != nil {
		return result{err: fmt.Errorf("build the request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kiln-Webhooks/1")
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := w.client.Do(req)
	res := result{latency: time.Since(start)}
	if err != nil {
		res.err = sendError(err)
		return res
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, int64(w.cfg.ExcerptBytes)))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	res.status, res.excerpt = resp.StatusCode, strings.ToValidUTF8(string(b), "")
	res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.now())
	return res
}

// sendError keeps what a log reader needs: the guard's refusal, a timeout, or the
// transport's message (which names no secret).
func sendError(err error) error {
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		return fmt.Errorf("refused by the SSRF guard: %w", err)
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("the request timed out")
	}
	return err
}

// maxRetryAfter bounds how long a Retry-After may postpone the next attempt.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// finish logs an attempt and sets its message's state, in one transaction.
// claim counts the attempt about to be made at m, while no other chain of attempts has made
// one since m was read: of chains running at once (replays sent together, a replay beside a
// retry) one sends, the others stand down. Checked before sending and counted after, every
// chain of eight concurrent replays sent the message (a helper's review).
func (w *Webhooks) claim(ctx context.Context, m *message) (bool, error) {
	var n int64
	err := w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		var err error
		n, err = tx.ExecRawCount(ctx, "UPDATE kiln_webhook_messages SET attempts = attempts + 1 WHERE id = ? AND attempts = ?", m.ID, m.Attempts)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim the webhook attempt: %w", err)
	}
	return n == 1, nil
}

// finish logs an attempt claimed (its number in its chain) and sets the message's state.
func (w *Webhooks) finish(ctx context.Context, m *message, attempt int, state string, res result) error {
	now := w.now().UnixMicro()
	var status, errText any
	if res.status != 0 {
		status = res.status
	}
	if res.err != nil {
		errText = res.err.Error()
	}
	return w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		if err := tx.ExecRaw(ctx, "INSERT INTO kiln_webhook_attempts (message_id, subscription_id, event_id, attempt, status_code, latency_ms, response, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			m.ID, m.SubID, m.EventID, attempt, status, res.latency.Milliseconds(), nullStr(res.excerpt), errText, now); err != nil {
			return fmt.Errorf("log webhook attempt: %w", err)
		}
		return tx.ExecRaw(ctx, "UPDATE kiln_webhook_messages SET state = ?, updated_at = ? WHERE id = ?", state, now, m.ID)
	})
}

func (w *Webhooks) disable(ctx context.Context, s *Subscription, reason string) error {
	now := w.now().UnixMicro()
	return w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "UPDATE kiln_webhooks SET disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND disabled_at IS NULL", now, reason, now, s.ID)
	})
}

// Cancelled marks the message of a cancelled webhook.deliver job failed: it stayed
// 'retrying', which no job tries again, a bulk replay skips and the sweep keeps for ever.
// Failed, a replay (one message, or all since a time) sends it again.
func (w *Webhooks) Cancelled(ctx context.Context, j *jobs.Job) error {
	var a deliverArgs
	if err := json.Unmarshal(j.Args, &a); err != nil || a.Message == "" {
		return nil
	}
	return w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "UPDATE kiln_webhook_messages SET state = ?, updated_at = ? WHERE id = ? AND state IN (?, ?)",
			StateFailed, w.now().UnixMicro(), a.Message, StatePending, StateRetrying)
	})
}
