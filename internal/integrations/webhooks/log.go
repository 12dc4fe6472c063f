package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// Attempt is one line of the delivery log.
type Attempt struct {
	ID         int64     `json:"id"`
	Message    string    `json:"message_id"`
	EventID    int64     `json:"event_id"`
	Attempt    int       `json:"attempt"`
	StatusCode *int      `json:"status_code"`
	LatencyMS  int64     `json:"latency_ms"`
	Response   string    `json:"response,omitempty"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
}

// DefaultAttemptPage is a page of the delivery log when no limit is given.
const DefaultAttemptPage = 50

// AttemptOpts page the delivery log of one subscription, newest first.
type AttemptOpts struct {
	Limit  int   // default DefaultAttemptPage, at most 500
	Before int64 // attempts with a smaller id
}

// Attempts reads the delivery log of a subscription.
func (w *Webhooks) Attempts(ctx context.Context, name string, o AttemptOpts) ([]*Attempt, error) {
	ex := w.cfg.Store.Reader()
	s, err := subByName(ctx, ex, name)
	if err != nil {
		return nil, err
	}
	if o.Limit <= 0 || o.Limit > 500 {
		o.Limit = DefaultAttemptPage
	}
	if o.Before <= 0 {
		o.Before = 1 << 62
	}
	rows, err := ex.QueryRaw(ctx, "SELECT id, message_id, event_id, attempt, status_code, latency_ms, response, error, created_at FROM kiln_webhook_attempts "+
		"WHERE subscription_id = ? AND id < ? ORDER BY id DESC LIMIT ?", s.ID, o.Before, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("read the delivery log: %w", err)
	}
	defer rows.Close()
	out := []*Attempt{}
	for rows.Next() {
		var a Attempt
		var status sql.NullInt64
		var resp, errText sql.NullString
		var at int64
		if err := rows.Scan(&a.ID, &a.Message, &a.EventID, &a.Attempt, &status, &a.LatencyMS, &resp, &errText, &at); err != nil {
			return nil, fmt.Errorf("read the delivery log: %w", err)
		}
		if status.Valid {
			n := int(status.Int64)
			a.StatusCode = &n
		}
		a.Response, a.Error, a.At = resp.String, errText.String, time.UnixMicro(at).UTC()
		out = append(out, &a)
	}
	return out, rows.Err()
}

// ErrNoMessage means no message has the id.
var ErrNoMessage = errors.New("no webhook message has this id")

// Replay sends one message again, with its id and body, as a new delivery job.
func (w *Webhooks) Replay(ctx context.Context, messageID string) error {
	return w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return w.replayOne(ctx, tx, messageID)
	})
}

// replayOne sets message id pending again, counts the first attempt of a new chain and enqueues
// that chain (turn): an older chain still retrying it, or about to claim its attempt, stands
// down, so a message replayed while it waits for a retry is sent once, not once by each.
func (w *Webhooks) replayOne(ctx context.Context, tx *store.Exec, id string) error {
	// one statement counts and reads: two replays at once each get a count of their own
	rows, err := tx.QueryRaw(ctx, "UPDATE kiln_webhook_messages SET state = 'pending', attempts = attempts + 1, updated_at = ? WHERE id = ? RETURNING attempts",
		w.now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("replay webhook message: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return errors.Join(ErrNoMessage, rows.Err())
	}
	var attempts int
	if err := rows.Scan(&attempts); err != nil {
		return fmt.Errorf("replay webhook message: %w", err)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("replay webhook message: %w", err)
	}
	return w.enqueueReplay(ctx, tx, id, attempts)
}

// ReplayFailed sends again every message of a subscription that failed for good (out of
// attempts, or refused while the subscription was disabled) since a time, and reports how
// many.
func (w *Webhooks) ReplayFailed(ctx context.Context, name string, since time.Time) (int, error) {
	n := 0
	err := w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		s, err := subByName(ctx, tx, name)
		if err != nil {
			return err
		}
		ids, err := failedSince(ctx, tx, s.ID, since)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := w.replayOne(ctx, tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

func failedSince(ctx context.Context, tx *store.Exec, sub int64, since time.Time) ([]string, error) {
	rows, err := tx.QueryRaw(ctx, "SELECT id FROM kiln_webhook_messages WHERE subscription_id = ? AND state = 'failed' AND created_at >= ? ORDER BY created_at LIMIT 10000",
		sub, since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("find failed webhook messages: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find failed webhook messages: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
