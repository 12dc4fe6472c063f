package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/mail"
	"github.com/kiln-dev/kiln/internal/store"
)

// JobQueue enqueues jobs inside a write's transaction (jobs.Queue).
type JobQueue interface {
	StageTx(ctx context.Context, tx *store.Exec, rs []jobs.Request) error
}

var _ JobQueue = (*jobs.Queue)(nil)

// TriggerJob is the args of a trigger's job: the event that fired it and, for a mail
// trigger, the message computed when the event was written.
type TriggerJob struct {
	Trigger   string          `json:"trigger"`
	EventID   int64           `json:"event_id"`
	Resource  string          `json:"resource"`
	Operation string          `json:"operation"`
	Action    string          `json:"action,omitempty"`
	RecordID  string          `json:"record_id"`
	Old       json.RawMessage `json:"old,omitempty"`
	New       json.RawMessage `json:"new,omitempty"`
	Principal string          `json:"principal,omitempty"`
	Mail      *logic.Mail     `json:"mail,omitempty"`
	// IDs are the records an update trigger changes, selected when the event was written.
	IDs []string `json:"ids,omitempty"`
}

// emit appends the event of one record write to the outbox and enqueues the jobs of the
// triggers it fires, all in the write's transaction: old is nil on create, rec on delete.
func (w *write) emit(ctx context.Context, op, action string, old, rec *store.Record) error {
	ev := &events.Event{Resource: w.r.Name, Operation: op, Action: action, At: w.s.nowUTC(), Principal: principalID(ctx)}
	var err error
	if old != nil {
		ev.RecordID = old.ID
		if ev.Old, err = w.s.recordJSON(w.r, old); err != nil {
			return err
		}
	}
	if rec != nil {
		ev.RecordID = rec.ID
		if ev.New, err = w.s.recordJSON(w.r, rec); err != nil {
			return err
		}
	}
	digest, err := w.appendEvent(ctx, ev)
	if err != nil {
		return err
	}
	if err := w.removedFiles(ctx, old, rec); err != nil {
		return err
	}
	if w.s.eventsCommitted != nil {
		w.tx.AfterCommit(w.s.eventsCommitted)
	}
	name := op
	if action != "" {
		name = action
	}
	if err := w.fire(ctx, ev, name, old, rec); err != nil {
		return err
	}
	return w.notify(ctx, ev, name, old, rec, digest)
}

// appendEvent appends ev; its insert also reads the webhook subscriptions' digest, so
// matching them costs no statement of its own.
func (w *write) appendEvent(ctx context.Context, ev *events.Event) (webhooks.Digest, error) {
	also := ""
	if w.s.webhooks != nil {
		also = w.s.webhooks.DigestSQL(w.tx.Dialect())
	}
	var text string
	var err error
	if rec, old := w.unwritten, w.unwrittenOld; rec != nil {
		w.unwritten, w.unwrittenOld = nil, nil
		if old != nil {
			return webhooks.Digest{}, w.appendUpdated(ctx, rec, old, ev, also)
		}
		if w.matched, err = w.appendCreated(ctx, rec, ev, also); w.matched || err != nil {
			return webhooks.Digest{}, err
		}
		text, err = events.AppendInserting(ctx, w.tx, w.r.Name, rec, ev, also)
	} else {
		text, err = events.AppendReading(ctx, w.tx, ev, also)
	}
	return webhooks.Digest{Text: text, Read: also != ""}, err
}

// endsAlone reports whether nothing would follow an event of op on r in its write's
// transaction — no trigger fires on it, no webhook subscription in hand matches it — with the
// digest of those subscriptions, under which the write is made (events.AppendLast).
func (s *Service) endsAlone(r *resource, op string) (string, bool) {
	if lr := s.logic.Resource(r.Name); lr != nil && lr.HasTriggers(op) {
		return "", false
	}
	if s.webhooks == nil {
		return "", true
	}
	return s.webhooks.Quiet(r.Name, op)
}

// appendCreated writes a created record and its event as the transaction's last statement
// when the write is the transaction's whole work (w.last) and nothing would follow the event
// (endsAlone) — made only where the subscriptions are still those (their digest, read by the
// same statement). On PostgreSQL a transaction that ran nothing before then commits with that
// one statement (store.Fold.Last). It reports whether it wrote; when the subscriptions changed
// nothing was written, and the create goes the usual way.
func (w *write) appendCreated(ctx context.Context, rec *store.Record, ev *events.Event, also string) (bool, error) {
	if !w.last {
		return false, nil
	}
	digest, ok := w.s.endsAlone(w.r, ev.Operation)
	if !ok {
		return false, nil
	}
	err := events.AppendLast(ev, also, digest, func(f store.Fold) error {
		return w.tx.InsertScanning(ctx, w.r.Name, rec, f)
	})
	if errors.Is(err, store.ErrUnwritten) {
		return false, nil
	}
	return err == nil, err
}

// appendUpdated writes an update of a record read without a lock (updateAlone) and its event
// as the transaction's last statement, made only where the record's version is still the one
// read and the subscriptions are still those updateAlone saw (w.digest): errMoved otherwise.
func (w *write) appendUpdated(ctx context.Context, rec, old *store.Record, ev *events.Event, also string) error {
	err := events.AppendLast(ev, also, w.digest, func(f store.Fold) error {
		return w.tx.UpdateScanning(ctx, w.r.Name, rec, old, f)
	})
	if errors.Is(err, store.ErrUnwritten) {
		return errMoved
	}
	w.matched = err == nil
	return err
}

// WebhookMatcher enqueues, inside a write's transaction, the deliveries of the webhook
// subscriptions an event matches (webhooks.Webhooks); holds evaluates a subscription's
// condition over the event's old and new records.
type WebhookMatcher interface {
	// DigestSQL is a scalar subquery the event's insert reads along (webhooks.Digest); "" for none.
	DigestSQL(dialect string) string
	// Quiet reports whether no subscription in hand matches resource's op, and their digest.
	Quiet(resource, op string) (string, bool)
	MatchTx(ctx context.Context, tx *store.Exec, ev *events.Event, op string, holds webhooks.HoldsFunc, digest webhooks.Digest) error
}

// notify hands the event to the webhook subscriptions, with their conditions evaluated
// like a trigger's (old, new, record, auth, now; cross-record reads in the transaction).
func (w *write) notify(ctx context.Context, ev *events.Event, name string, old, rec *store.Record, digest webhooks.Digest) error {
	if w.s.webhooks == nil || w.matched {
		return nil
	}
	var vars *logic.Vars
	holds := func(src string) (bool, error) {
		if vars == nil {
			vars = w.s.triggerVars(ctx, w.r, old, rec, name)
			if vars.Auth == nil {
				// A write without an account (Kiln's own: a schedule's, an incoming webhook's
				// action; or anonymous): auth.role is "" and auth.roles empty, so a condition on
				// them does not hold. A subscription only decides a delivery; without them one
				// made through the admin API with auth.role == 'agent' could not be computed
				// and refused every such write. (A trigger's when, which may run an action on
				// Kiln's own authority, still fails closed: 409 logic_failed.)
				vars.Auth = &logic.Auth{}
			}
		}
		ok, err := w.s.logic.ConditionHolds(ctx, &txReader{s: w.s, tx: w.tx}, vars, w.r.Name, src)
		var ee *logic.EvalError
		if errors.As(err, &ee) {
			return false, &Error{Code: CodeLogicFailed, Class: CodeConflict, Message: "a webhook's condition could not be computed for this write (the server's log names the expression); nothing was written", Cause: err}
		}
		return ok, err
	}
	return w.s.webhooks.MatchTx(ctx, w.tx, ev, name, holds, digest)
}

// fire stages a job for every trigger of the event whose condition holds, in the write's
// transaction; the queue's relay enqueues them once it commits.
func (w *write) fire(ctx context.Context, ev *events.Event, name string, old, rec *store.Record) error {
	lr := w.s.logic.Resource(w.r.Name)
	if lr == nil || !lr.HasTriggers(name) {
		return nil
	}
	if w.s.jobs == nil {
		return errors.New("the spec declares triggers but no job queue was given to the service")
	}
	vars := w.s.triggerVars(ctx, w.r, old, rec, name)
	fired, err := lr.Triggers(ctx, &txReader{s: w.s, tx: w.tx}, vars, name)
	if err != nil {
		return triggerError(err)
	}
	reqs := make([]jobs.Request, len(fired))
	for i, f := range fired {
		t := f.Trigger
		if err := renderMail(ev, f); err != nil {
			return &Error{Code: CodeLogicFailed, Class: CodeConflict, Message: "trigger " + t.Name + ": its mail template could not be rendered", Cause: err}
		}
		args := TriggerJob{Trigger: t.Name, EventID: ev.ID, Resource: ev.Resource, Operation: ev.Operation, Action: ev.Action,
			RecordID: ev.RecordID, Old: ev.Old, New: ev.New, Principal: ev.Principal, Mail: f.Mail, IDs: f.IDs}
		reqs[i] = jobs.Request{Kind: t.Kind(w.r.Name), Args: args, Queue: t.Queue, Priority: t.Priority, MaxAttempts: t.MaxAttempts}
	}
	if err := w.s.jobs.StageTx(ctx, w.tx, reqs); err != nil {
		return fmt.Errorf("triggers of %s: %w", w.r.Name, err)
	}
	return nil
}

// triggerError answers a trigger that could not be computed for a write: 409 naming the
// trigger and the part that failed — its condition, its mail's recipient, subject or text,
// the records it updates — never the expression (the log has it). Another error is as it is.
func triggerError(err error) error {
	var ee *logic.EvalError
	if !errors.As(err, &ee) {
		return err
	}
	msg := "a trigger could not be computed for this write (the server's log names the expression); nothing was written"
	var te *logic.TriggerError
	if errors.As(err, &te) {
		msg = "trigger " + te.Trigger + ": its " + te.Part + " could not be computed for this write (the server's log names the expression); nothing was written"
	}
	return &Error{Code: CodeLogicFailed, Class: CodeConflict, Message: msg, Cause: err}
}

// renderMail fills a template mail trigger's message from the event's records: the
// template sees .new, .old (maps of the fields as the API shows them; nil when absent),
// .record (new, or old on delete), .event (resource, operation, action, record_id) and .to.
func renderMail(ev *events.Event, f logic.Fired) error {
	if f.Mail == nil || f.Trigger.Mail == nil || f.Trigger.Mail.Loaded == nil {
		return nil
	}
	decode := func(raw json.RawMessage) map[string]any {
		if raw == nil {
			return nil
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&m) != nil {
			return nil
		}
		return m
	}
	data := map[string]any{"new": decode(ev.New), "old": decode(ev.Old), "to": f.Mail.To,
		"event": map[string]any{"resource": ev.Resource, "operation": ev.Operation, "action": ev.Action, "record_id": ev.RecordID}}
	data["record"] = data["new"]
	if ev.New == nil {
		data["record"] = data["old"]
	}
	msg := mail.Message{To: f.Mail.To, Subject: f.Mail.Subject}
	if err := f.Trigger.Mail.Loaded.Render(data, &msg); err != nil {
		return err
	}
	f.Mail.Subject, f.Mail.Text, f.Mail.HTML = msg.Subject, msg.Text, msg.HTML
	return nil
}

// triggerVars: old is an empty record on create, new the record as it was on delete.
func (s *Service) triggerVars(ctx context.Context, r *resource, old, rec *store.Record, name string) *logic.Vars {
	cur := rec
	if cur == nil {
		cur = old
	}
	v := s.logicVars(ctx, r, cur, old, name)
	if v.Old == nil {
		v.Old = &logic.Record{Resource: r.Name, Fields: map[string]any{}}
	}
	v.New = v.Record
	return v
}

// recordJSON is the record as an event carries it: its system fields and the fields a
// client may read (hidden fields such as password hashes are left out).
func (s *Service) recordJSON(r *resource, rec *store.Record) (json.RawMessage, error) {
	if b, ok, err := eventJSON(r.eventKeys, rec, r.eventSize.get()); ok {
		if err != nil {
			return nil, fmt.Errorf("encode the event's record: %w", err)
		}
		r.eventSize.saw(len(b))
		return b, nil
	}
	m := s.PublicFields(r.Name, rec)
	m["id"], m["created_at"], m["updated_at"], m["version"] = rec.ID, rec.CreatedAt, rec.UpdatedAt, rec.Version
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode the event's record: %w", err)
	}
	return b, nil
}

func principalID(ctx context.Context) string {
	p := PrincipalFrom(ctx)
	switch {
	case p == nil:
		return ""
	case p.ID != "":
		return p.ID
	}
	return p.KeyID
}
