package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// Sources of a subscription.
const (
	SourceSpec = "spec"
	SourceAPI  = "api"
)

// Subscription is an outgoing webhook subscription. Its secrets never leave through JSON.
type Subscription struct {
	ID             int64      `json:"-"`
	Name           string     `json:"name"`
	Source         string     `json:"source"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	When           string     `json:"when,omitempty"`
	Type           string     `json:"type,omitempty"`
	SecretEnv      string     `json:"secret_env,omitempty"`
	Enabled        bool       `json:"enabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	RotatingUntil  *time.Time `json:"rotating_until,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`

	secret, previous Secret
	previousUntil    time.Time
	eventsText       string // events as stored, for the digest
}

// Errors of subscription management.
var (
	ErrNotFound = errors.New("no webhook subscription has this name")
	ErrExists   = errors.New("a webhook subscription has this name already")
	ErrFromSpec = errors.New("the subscription is declared in the spec: change it there")
)

const subColumns = "id, name, source, url, events, condition, event_type, secret_env, secret, previous_secret, previous_until, disabled_at, disabled_reason, created_at, updated_at"

func scanSub(rows *sql.Rows) (*Subscription, error) {
	var s Subscription
	var events string
	var cond, typ, env, secret, prev, reason sql.NullString
	var prevUntil, disabled sql.NullInt64
	var created, updated int64
	if err := rows.Scan(&s.ID, &s.Name, &s.Source, &s.URL, &events, &cond, &typ, &env, &secret, &prev, &prevUntil, &disabled, &reason, &created, &updated); err != nil {
		return nil, fmt.Errorf("scan subscription: %w", err)
	}
	s.eventsText = events
	if err := json.Unmarshal([]byte(events), &s.Events); err != nil {
		return nil, fmt.Errorf("subscription %s: events: %w", s.Name, err)
	}
	s.When, s.Type, s.SecretEnv, s.DisabledReason = cond.String, typ.String, env.String, reason.String
	s.secret, s.previous = Secret(secret.String), Secret(prev.String)
	s.Enabled = !disabled.Valid
	s.CreatedAt, s.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if prevUntil.Valid {
		s.previousUntil = time.UnixMicro(prevUntil.Int64).UTC()
		s.RotatingUntil = &s.previousUntil
	}
	return &s, nil
}

// querySubs reads the subscriptions matching a fixed condition.
func querySubs(ctx context.Context, ex *store.Exec, where string, args ...any) ([]*Subscription, error) {
	rows, err := ex.QueryRaw(ctx, "SELECT "+subColumns+" FROM kiln_webhooks "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read webhook subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		s, err := scanSub(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func subByName(ctx context.Context, ex *store.Exec, name string) (*Subscription, error) {
	where := "WHERE name = ?"
	if ex.LocksRows() {
		// in a write's transaction on PostgreSQL: locked, so a change computed from what it
		// read (a PATCH writing every field back) waits for a concurrent one, then sees it
		where += " FOR UPDATE"
	}
	subs, err := querySubs(ctx, ex, where, name)
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, ErrNotFound
	}
	return subs[0], nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Sync makes the stored spec subscriptions those of the spec: new ones are added, changed
// ones updated (a disabled one stays disabled), removed ones deleted.
func (w *Webhooks) Sync(ctx context.Context) error {
	if !w.Enabled() {
		return nil
	}
	// Instances starting together take turns (PostgreSQL), so none sees another's
	// uncommitted insert as a name taken.
	unlock, err := w.cfg.Store.Lock(ctx, "kiln_webhooks_sync", nil)
	if err != nil {
		return err
	}
	defer unlock()
	now := w.now().UnixMicro()
	return w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		keep := []any{}
		for _, s := range w.cfg.Spec.Webhooks.Subscriptions {
			if err := w.guard.checkLiteral(mustURL(s.URL)); err != nil {
				return fmt.Errorf("webhook %s: %w (allow it with webhooks_allow_hosts)", s.Name, err)
			}
			ev, _ := json.Marshal(s.Events)
			n, err := tx.ExecRawCount(ctx, "UPDATE kiln_webhooks SET url = ?, events = ?, condition = ?, event_type = ?, secret_env = ?, updated_at = ? WHERE name = ? AND source = 'spec'",
				s.URL, string(ev), nullStr(s.When.Text), nullStr(s.Type), s.SecretEnv, now, s.Name)
			if err == nil && n == 0 {
				err = tx.ExecRaw(ctx, "INSERT INTO kiln_webhooks (name, source, url, events, condition, event_type, secret_env, created_at, updated_at) VALUES (?, 'spec', ?, ?, ?, ?, ?, ?, ?)",
					s.Name, s.URL, string(ev), nullStr(s.When.Text), nullStr(s.Type), s.SecretEnv, now, now)
			}
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("webhook %s: a subscription made through the admin API has this name: %w", s.Name, ErrExists)
			}
			if err != nil {
				return fmt.Errorf("store webhook %s: %w", s.Name, err)
			}
			keep = append(keep, s.Name)
		}
		return deleteSpecSubsExcept(ctx, tx, keep)
	})
}

func deleteSpecSubsExcept(ctx context.Context, tx *store.Exec, keep []any) error {
	q := "DELETE FROM kiln_webhooks WHERE source = 'spec'"
	if len(keep) > 0 {
		q += " AND name NOT IN (?" + strings.Repeat(", ?", len(keep)-1) + ")"
	}
	if err := tx.ExecRaw(ctx, q, keep...); err != nil {
		return fmt.Errorf("remove webhooks gone from the spec: %w", err)
	}
	return nil
}

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Stale lists the enabled subscriptions whose when: no longer compiles against the spec (a
// field it names was removed since it was stored), each with the problem: every write it is
// matched against is refused with 409 logic_failed until it is changed or deleted.
func (w *Webhooks) Stale(ctx context.Context) (map[string]string, error) {
	subs, err := querySubs(ctx, w.cfg.Store.Reader(), "WHERE disabled_at IS NULL AND condition IS NOT NULL ORDER BY name")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range subs {
		w.checkWhen(s, func(_, _, msg string) { out[s.Name] = msg })
	}
	return out, nil
}
