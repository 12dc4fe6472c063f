package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// FieldError is one problem with one field of a subscription.
type FieldError struct {
	Field, Code, Message string
}

// InvalidError lists every problem of a subscription request.
type InvalidError struct{ Fields []FieldError }

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid subscription: %v", e.Fields) }

// Input creates or changes a subscription; nil fields are left as they are on update.
type Input struct {
	Name    *string   `json:"name"`
	URL     *string   `json:"url"`
	Events  *[]string `json:"events"`
	When    *string   `json:"when"`
	Type    *string   `json:"type"`
	Secret  *string   `json:"secret"`
	Enabled *bool     `json:"enabled"`
}

// Created is a new subscription with its secret, shown this once.
type Created struct {
	*Subscription
	Secret string `json:"secret"`
}

// List returns every subscription, by name.
func (w *Webhooks) List(ctx context.Context) ([]*Subscription, error) {
	return querySubs(ctx, w.cfg.Store.Reader(), "ORDER BY name")
}

// Get returns one subscription.
func (w *Webhooks) Get(ctx context.Context, name string) (*Subscription, error) {
	return subByName(ctx, w.cfg.Store.Reader(), name)
}

// Create stores a subscription made through the admin API, with the secret given or a new
// one.
func (w *Webhooks) Create(ctx context.Context, in Input) (*Created, error) {
	s := &Subscription{Source: SourceAPI, Enabled: true}
	if err := w.apply(ctx, s, in, true); err != nil {
		return nil, err
	}
	secret := Secret("")
	if in.Secret != nil {
		secret = Secret(*in.Secret)
	} else {
		var err error
		if secret, err = NewSecret(w.cfg.Rand); err != nil {
			return nil, err
		}
	}
	now := w.now().UnixMicro()
	ev, _ := json.Marshal(s.Events)
	err := w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "INSERT INTO kiln_webhooks (name, source, url, events, condition, event_type, secret, created_at, updated_at) VALUES (?, 'api', ?, ?, ?, ?, ?, ?, ?)",
			s.Name, s.URL, string(ev), nullStr(s.When), nullStr(s.Type), string(secret), now, now)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrExists
	}
	if err != nil {
		return nil, fmt.Errorf("create webhook subscription: %w", err)
	}
	got, err := w.Get(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	return &Created{Subscription: got, Secret: string(secret)}, nil
}

// Update changes a subscription: every field of one made through the API, only enabled of
// one declared in the spec.
func (w *Webhooks) Update(ctx context.Context, name string, in Input) (*Subscription, error) {
	err := w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		s, err := subByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if s.Source == SourceSpec && (in.Name != nil || in.URL != nil || in.Events != nil || in.When != nil || in.Type != nil || in.Secret != nil) {
			return ErrFromSpec
		}
		if in.Name != nil && *in.Name != s.Name {
			return &InvalidError{Fields: []FieldError{{Field: "name", Code: "immutable", Message: "a subscription keeps its name"}}}
		}
		if err := w.apply(ctx, s, in, false); err != nil {
			return err
		}
		return w.store(ctx, tx, s, in.Enabled)
	})
	if err != nil {
		return nil, err
	}
	return w.Get(ctx, name)
}

func (w *Webhooks) store(ctx context.Context, tx *store.Exec, s *Subscription, enabled *bool) error {
	ev, _ := json.Marshal(s.Events)
	now := w.now().UnixMicro()
	if err := tx.ExecRaw(ctx, "UPDATE kiln_webhooks SET url = ?, events = ?, condition = ?, event_type = ?, updated_at = ? WHERE id = ?",
		s.URL, string(ev), nullStr(s.When), nullStr(s.Type), now, s.ID); err != nil {
		return fmt.Errorf("update webhook subscription: %w", err)
	}
	if enabled == nil {
		return nil
	}
	if *enabled {
		return tx.ExecRaw(ctx, "UPDATE kiln_webhooks SET disabled_at = NULL, disabled_reason = NULL WHERE id = ?", s.ID)
	}
	return tx.ExecRaw(ctx, "UPDATE kiln_webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL", now, "disabled by an administrator", s.ID)
}

// Delete removes a subscription made through the API; its log goes with it.
func (w *Webhooks) Delete(ctx context.Context, name string) error {
	return w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		s, err := subByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if s.Source == SourceSpec {
			return ErrFromSpec
		}
		for _, q := range []string{"DELETE FROM kiln_webhook_attempts WHERE subscription_id = ?", "DELETE FROM kiln_webhook_messages WHERE subscription_id = ?", "DELETE FROM kiln_webhooks WHERE id = ?"} {
			if err := tx.ExecRaw(ctx, q, s.ID); err != nil {
				return fmt.Errorf("delete webhook subscription: %w", err)
			}
		}
		return nil
	})
}

// Rotate gives a subscription made through the API a new secret (the one given, or a new
// one); the old one keeps signing next to it for overlap.
func (w *Webhooks) Rotate(ctx context.Context, name string, secret *string, overlap time.Duration) (*Created, error) {
	next := Secret("")
	if secret != nil {
		if err := CheckSecret(*secret); err != nil {
			return nil, &InvalidError{Fields: []FieldError{{Field: "secret", Code: "format", Message: err.Error()}}}
		}
		next = Secret(*secret)
	} else {
		var err error
		if next, err = NewSecret(w.cfg.Rand); err != nil {
			return nil, err
		}
	}
	err := w.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		s, err := subByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if s.Source == SourceSpec {
			return ErrFromSpec
		}
		now := w.now()
		return tx.ExecRaw(ctx, "UPDATE kiln_webhooks SET previous_secret = secret, previous_until = ?, secret = ?, updated_at = ? WHERE id = ?",
			now.Add(overlap).UnixMicro(), string(next), now.UnixMicro(), s.ID)
	})
	if err != nil {
		return nil, err
	}
	got, err := w.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return &Created{Subscription: got, Secret: string(next)}, nil
}

// apply validates in and copies it onto s, reporting every problem at once.
func (w *Webhooks) apply(ctx context.Context, s *Subscription, in Input, create bool) error {
	var errs []FieldError
	bad := func(field, code, msg string) { errs = append(errs, FieldError{Field: field, Code: code, Message: msg}) }
	if create && (in.Name == nil || !nameRe.MatchString(*in.Name)) {
		bad("name", "format", "a name of lowercase letters, digits and _, starting with a letter (at most 63)")
	} else if create {
		s.Name = *in.Name
	}
	if in.URL != nil {
		s.URL = *in.URL
		w.checkURL(ctx, s.URL, bad)
	} else if create {
		bad("url", "required", "the URL deliveries are posted to")
	}
	if in.Events != nil {
		s.Events = *in.Events
	}
	if len(s.Events) == 0 {
		bad("events", "required", "at least one event such as orders.update, orders.* or *")
	}
	for _, e := range s.Events {
		if msg := w.cfg.Spec.CheckEventPattern(e); msg != "" {
			bad("events", "enum", msg)
		}
	}
	if in.Type != nil {
		s.Type = *in.Type
	}
	if in.When != nil {
		s.When = *in.When
	}
	w.checkWhen(s, bad)
	if in.Secret != nil {
		if err := CheckSecret(*in.Secret); err != nil {
			bad("secret", "format", err.Error())
		}
	}
	if len(errs) > 0 {
		return &InvalidError{Fields: errs}
	}
	return nil
}

func (w *Webhooks) checkURL(ctx context.Context, raw string, bad func(field, code, msg string)) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url", "format", "an absolute http or https URL")
		return
	}
	if err := w.guard.CheckURL(ctx, raw); err != nil {
		bad("url", "forbidden_address", "the URL leads to a private, loopback, link-local or metadata address, which webhooks may not reach (webhooks_allow_hosts in the spec allows one)")
	}
}

func (w *Webhooks) checkWhen(s *Subscription, bad func(field, code, msg string)) {
	if s.When == "" {
		return
	}
	res := ""
	for _, e := range s.Events {
		r, _, _ := strings.Cut(e, ".")
		if r == "*" || (res != "" && r != res) {
			bad("when", "scope", "when: needs events of one resource")
			return
		}
		res = r
	}
	if w.cfg.CheckCondition == nil || res == "" {
		return
	}
	if err := w.cfg.CheckCondition(res, s.When); err != nil {
		bad("when", "expression", err.Error())
	}
}
