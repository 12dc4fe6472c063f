package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/store"
)

// Payload is the body of a delivery (Standard Webhooks: type, timestamp, data).
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data is the event a delivery carries, with the record before and after.
type Data struct {
	EventID   int64           `json:"event_id"`
	Resource  string          `json:"resource"`
	Operation string          `json:"operation"`
	Action    string          `json:"action,omitempty"`
	RecordID  string          `json:"record_id"`
	Old       json.RawMessage `json:"old"`
	New       json.RawMessage `json:"new"`
}

// deliverArgs are a delivery job's args: the message to send.
type deliverArgs struct {
	Message string `json:"message"`
	// From is how many attempts the message had when this chain of attempts was enqueued (0
	// for its first; a replay's, the count after its reservation): see turn.
	From int `json:"from,omitempty"`
	// Reserved: the replay that enqueued this chain counted its first attempt already.
	Reserved bool `json:"reserved,omitempty"`
}

// turn decides whether a chain's attempt n goes ahead at a message whose count of attempts is
// count, and whether it claims it first. The chain expects From+n-1 attempts made before its
// nth; finding more, another chain (a replay enqueued since) has the message, and it stands
// down. A replay counts its chain's first attempt as it enqueues it (a reservation), so that
// the attempt an older chain loaded and has yet to claim cannot be claimed any more: without
// it, a replay landing between a final attempt's load and its claim stood down when that
// attempt claimed, and was lost when the attempt failed. The reserved first attempt goes
// ahead only while no later replay has reserved; later ones claim as every other does.
func turn(a deliverArgs, n, count int) (goAhead, claim bool) {
	if !a.Reserved {
		return count <= a.From+n-1, true
	}
	if n == 1 {
		return count == a.From, false
	}
	return count <= a.From+n-2, true
}

// HoldsFunc evaluates a subscription's when: over the event's old and new records.
type HoldsFunc func(src string) (bool, error)

// MatchTx stores a message and enqueues its delivery for every enabled subscription the
// event matches, inside tx, the transaction of the write that appended the event: a
// rolled-back write sends nothing, a committed one always has its deliveries. op is the
// operation or, for an action event, the action's name.
// digest is what the write's event insert read of the subscriptions (DigestSQL): when it
// is the digest of the set last read, that set is used without reading it again.
func (w *Webhooks) MatchTx(ctx context.Context, tx *store.Exec, ev *events.Event, op string, holds HoldsFunc, digest Digest) error {
	if !w.Enabled() {
		return nil
	}
	subs, err := w.enabledSubs(ctx, tx, digest)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if !matches(s.Events, ev.Resource, op) {
			continue
		}
		if s.When != "" {
			ok, err := holds(s.When)
			if err != nil {
				return fmt.Errorf("webhook %s: %w", s.Name, err)
			}
			if !ok {
				continue
			}
		}
		if err := w.enqueue(ctx, tx, s, ev, op); err != nil {
			return err
		}
	}
	return nil
}

// enabledSubs are the enabled subscriptions in id order: from the cache when digest is
// its digest, otherwise read in tx (and cached).
func (w *Webhooks) enabledSubs(ctx context.Context, tx *store.Exec, digest Digest) ([]*Subscription, error) {
	if subs, ok := w.subs.lookup(digest); ok {
		return subs, nil
	}
	subs, err := querySubs(ctx, tx, "WHERE disabled_at IS NULL ORDER BY id")
	if err != nil {
		return nil, err
	}
	w.subs.store(subs)
	return subs, nil
}

func (w *Webhooks) enqueue(ctx context.Context, tx *store.Exec, s *Subscription, ev *events.Event, op string) error {
	typ := s.Type
	if typ == "" {
		typ = ev.Resource + "." + op
	}
	body, err := w.payload(typ, ev)
	if err != nil {
		return err
	}
	id := messageID(ev.ID, s.ID)
	now := w.now().UnixMicro()
	if err := tx.ExecRaw(ctx, "INSERT INTO kiln_webhook_messages (id, subscription_id, event_id, event_type, body, state, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
		id, s.ID, ev.ID, typ, string(body), now, now); err != nil {
		return fmt.Errorf("store webhook message: %w", err)
	}
	// Staged like a trigger's job: the write does not pay for River's insert.
	if err := w.cfg.Queue.StageTx(ctx, tx, []jobs.Request{w.deliveryRequest(id, 0)}); err != nil {
		return fmt.Errorf("stage webhook delivery: %w", err)
	}
	return nil
}

// messageID is a new message's webhook-id: its event's and subscription's numbers, which
// another database (a second deployment, a reset, a staging copy) numbers alike — receivers
// de-duplicating on the id dropped another deployment's messages (a trial) — and 48 random
// bits. It is stored with the message: every retry and replay sends the same.
func messageID(event, subscription int64) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (it panics if it cannot read)
	return fmt.Sprintf("msg_%d_%d_%s", event, subscription, hex.EncodeToString(b[:]))
}

func (w *Webhooks) deliveryRequest(id string, from int) jobs.Request {
	return jobs.Request{Kind: KindDeliver, Args: deliverArgs{Message: id, From: from}, MaxAttempts: w.MaxAttempts()}
}

// enqueueReplay enqueues a replay's chain of attempts at message id, whose count of attempts is
// from with the chain's first counted already.
func (w *Webhooks) enqueueReplay(ctx context.Context, tx *store.Exec, id string, from int) error {
	r := w.deliveryRequest(id, from)
	r.Args = deliverArgs{Message: id, From: from, Reserved: true}
	_, err := w.cfg.Queue.EnqueueTx(ctx, tx, r)
	if err != nil {
		return fmt.Errorf("enqueue webhook delivery: %w", err)
	}
	return nil
}

// payload is the body of ev's messages of type typ, its records' file fields as JSON.
func (w *Webhooks) payload(typ string, ev *events.Event) ([]byte, error) {
	old, cur := ev.Old, ev.New
	if r := w.cfg.Spec.Resource(ev.Resource); r != nil {
		fields := fileFields(r)
		var err error
		if old, err = filesAsJSON(fields, old); err == nil {
			cur, err = filesAsJSON(fields, cur)
		}
		if err != nil {
			return nil, fmt.Errorf("webhook payload: %w", err)
		}
	}
	body, err := json.Marshal(Payload{Type: typ, Timestamp: ev.At, Data: Data{EventID: ev.ID, Resource: ev.Resource,
		Operation: ev.Operation, Action: ev.Action, RecordID: ev.RecordID, Old: rawOrNull(old), New: rawOrNull(cur)}})
	if err != nil {
		return nil, fmt.Errorf("encode webhook payload: %w", err)
	}
	return body, nil
}

func rawOrNull(b json.RawMessage) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return b
}

// matches reports whether one of patterns ("*", "resource.*", "resource.op") names the
// event.
func matches(patterns []string, resource, op string) bool {
	for _, p := range patterns {
		r, o, _ := strings.Cut(p, ".")
		if p == "*" || (r == resource && (o == "*" || o == op)) {
			return true
		}
	}
	return false
}
