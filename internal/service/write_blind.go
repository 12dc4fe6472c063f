package service

import (
	"context"
	"errors"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// updateBlind is a PATCH on PostgreSQL as one statement that reads nothing first
// (store.Exec.UpdateBlind: it locks the row, writes the values that differ and appends the
// event, whose records PostgreSQL renders as eventJSON would): when nothing about the write
// needs the stored record — no row condition in the update rule, no If-Match, no logic, no
// before-hooks, no rollups, no relation, link, file or password sent, not the account
// resource, no trigger or webhook subscription to run on its event — and the values sent are
// valid on their own. errMoved when nothing was written (no such record, nothing to change,
// the webhook subscriptions changed, the record written while the statement waited for it, a
// value refused by the database such as a unique clash): the read-first way then answers, as
// it would have (a missing record is 404 before a value PostgreSQL refuses).
func (s *Service) updateBlind(ctx context.Context, r *resource, cond queryCond, id string, in map[string]any, a updateArgs, opts WriteOpts) (*store.Record, error) {
	if !s.blindUpdates(r, cond, in, a, opts) {
		return nil, errMoved
	}
	digest, ok := s.endsAlone(r, events.OpUpdate)
	if !ok {
		return nil, errMoved
	}
	p, ok := s.blindPatch(ctx, r, id, in)
	if !ok {
		return nil, errMoved
	}
	also := ""
	if s.webhooks != nil {
		also = s.webhooks.DigestSQL("postgres")
	}
	ev := &events.Event{Resource: r.Name, Operation: events.OpUpdate, RecordID: id, At: p.UpdatedAt, Principal: principalID(ctx)}
	var rec *store.Record
	err := s.store.InTx(ctx, func(tx *store.Exec) error {
		resetWritten(ctx)
		err := events.AppendBlind(ev, also, digest, func(f store.Fold) error {
			var err error
			rec, err = tx.UpdateBlind(ctx, r.Name, p, f)
			return err
		})
		if err != nil {
			return err
		}
		if s.eventsCommitted != nil {
			tx.AfterCommit(s.eventsCommitted)
		}
		noteWritten(ctx, r, spec.OpUpdate, rec)
		return nil
	})
	// The statement failed or wrote nothing: nothing of it committed.
	var ce *store.ConstraintError
	if errors.Is(err, store.ErrUnwritten) || errors.As(err, &ce) || errors.Is(err, store.ErrInvalidValue) {
		return nil, errMoved
	}
	return rec, err
}

// blindUpdates reports whether an update may go blind (updateBlind).
func (s *Service) blindUpdates(r *resource, cond queryCond, in map[string]any, a updateArgs, opts WriteOpts) bool {
	if s.store.Dialect() != "postgres" || cond != nil || a.full || a.hash != "" || a.ifMatch != nil || opts.Remember != nil || len(in) == 0 ||
		r.Name == s.account || r.hasRollups || s.hasBefore(r.Name, spec.OpUpdate) {
		return false
	}
	if lr := s.logic.Resource(r.Name); lr != nil && lr.HasLogic() {
		return false
	}
	for k := range in {
		f := r.Field(k)
		if f == nil || !f.Stored() || f.Relation != nil || f.Type == spec.TypeFile {
			return false
		}
	}
	return s.store.CanUpdateBlind(r.Name, r.blindKeys)
}

// blindPatch is the patch of in, checked as the read-first way checks the values sent; ok is
// false when one is refused (that way answers: a missing record is 404 before a bad value).
func (s *Service) blindPatch(ctx context.Context, r *resource, id string, in map[string]any) (store.Patch, bool) {
	scratch := &store.Record{ID: id, Values: make([]any, len(r.Fields))}
	var errs fieldErrors
	s.checkWriteRoles(ctx, r, in, &errs)
	r.apply(scratch, in, &errs)
	r.requireFields(scratch, in, false, &errs, nil)
	if len(errs) > 0 {
		return store.Patch{}, false
	}
	p := store.Patch{ID: id, UpdatedAt: s.nowUTC(), Set: make([]int, 0, len(in)), Values: make([]any, 0, len(in))}
	for i, f := range r.Fields {
		if _, sent := in[f.Name]; sent {
			p.Set, p.Values = append(p.Set, i), append(p.Values, scratch.Values[i])
		}
	}
	return p, true
}

// storeKeys are keys as the store renders them (store.EventKey).
func storeKeys(keys []eventKey) []store.EventKey {
	out := make([]store.EventKey, len(keys))
	for i, k := range keys {
		out[i] = store.EventKey{Prefix: string(k.prefix), Field: k.field}
	}
	return out
}
