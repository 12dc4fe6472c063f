package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/store"
)

// JobQueue enqueues jobs inside a write's transaction (jobs.Queue).
type JobQueue interface {
	EnqueueTx(ctx context.Context, tx *store.Exec, r jobs.Request) (int64, error)
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
	if err := events.Append(ctx, w.tx, ev); err != nil {
		return err
	}
	if w.s.eventsCommitted != nil {
		w.tx.AfterCommit(w.s.eventsCommitted)
	}
	name := op
	if action != "" {
		name = action
	}
	return w.fire(ctx, ev, name, old, rec)
}

// fire enqueues a job for every trigger of the event whose condition holds.
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
		var ee *logic.EvalError
		if errors.As(err, &ee) {
			return &Error{Code: "logic_failed", Class: CodeConflict, Message: "a trigger's condition could not be computed: " + err.Error(), Cause: err}
		}
		return err
	}
	for _, f := range fired {
		t := f.Trigger
		args := TriggerJob{Trigger: t.Name, EventID: ev.ID, Resource: ev.Resource, Operation: ev.Operation, Action: ev.Action,
			RecordID: ev.RecordID, Old: ev.Old, New: ev.New, Principal: ev.Principal, Mail: f.Mail}
		req := jobs.Request{Kind: t.Kind(w.r.Name), Args: args, Queue: t.Queue, Priority: t.Priority, MaxAttempts: t.MaxAttempts}
		if _, err := w.s.jobs.EnqueueTx(ctx, w.tx, req); err != nil {
			return fmt.Errorf("trigger %s: %w", t.Name, err)
		}
	}
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
