package service

import (
	"context"
	"errors"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// checkRelations verifies, inside the transaction, that every id the write links to exists
// and that the writer may view it: one query per relation field, and a 400 naming the field
// otherwise. A target the writer may not view answers exactly like a missing one, so writes
// cannot probe which ids exist — unless the field says allow_hidden. Problems join errs, so

// checkRelations checks that the relations given in in point at records the writer can see.
// A to-one target the record's logic reads with get() is read whole and kept (w.seen) for
// that logic, so one query serves both the check and the read.
func (w *write) checkRelations(ctx context.Context, rec *store.Record, in map[string]any, errs *fieldErrors) error {
	in = w.given(in)
	var gets map[string]bool
	if lr := w.s.logic.Resource(w.r.Name); lr != nil {
		gets = lr.Gets
	}
	for i, f := range w.r.Fields {
		if f.Relation == nil || f.IsInverse() || rec.Values[i] == nil || w.trust[f.Name] || hasField(*errs, f.Name) {
			continue
		}
		if _, given := in[f.Name]; !given {
			continue
		}
		ids, _ := rec.Values[i].([]string)
		one, isOne := rec.Values[i].(string)
		if isOne {
			ids = []string{one}
		}
		var found map[string]bool
		var err error
		if isOne && gets[f.Relation.To] {
			found, err = w.readVisible(ctx, f, one)
		} else {
			found, err = w.s.visibleIDs(ctx, w.tx, f, ids)
		}
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !found[id] {
				errs.add(f.Name, "not_found", "no %s record has id %s%s", f.Relation.To, id, scopeHint(ctx, f.Relation.To))
				break
			}
		}
	}
	return nil
}

// scopeHint tells an API key whose scopes do not let it view resource why none of its records
// can be linked (every id is answered alike, so it tells nothing of any one record).
func scopeHint(ctx context.Context, resource string) string {
	if p := PrincipalFrom(ctx); p != nil && p.KeyID != "" && !ScopeAllows(p.Scopes, resource, string(spec.ActionView)) {
		return " that this API key may see: its scopes do not cover " + resource + ":read"
	}
	return ""
}

// readVisible locks and reads f's target id whole if the writer can see it, and keeps it for
// the logic.
func (w *write) readVisible(ctx context.Context, f *spec.Field, id string) (map[string]bool, error) {
	cond, visible, err := w.s.viewCond(ctx, f)
	if _, ok := validID(id); err != nil || !visible || !ok {
		return map[string]bool{}, err
	}
	// get() locks what it reads; reading it here for get() must lock it first too, or the
	// logic would see the record as it was before a concurrent write it then waits for.
	rec, err := w.tx.GetForUpdate(ctx, f.Relation.To, id, cond)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	if w.seen == nil {
		w.seen = map[string]*store.Record{}
	}
	w.seen[seenKey(f.Relation.To, id)] = rec
	return map[string]bool{id: true}, nil
}

func seenKey(resource, id string) string { return resource + "\x00" + id }

// visibleIDs returns which of ids exist in f's target resource and are visible to the writer.
func (s *Service) visibleIDs(ctx context.Context, tx *store.Exec, f *spec.Field, ids []string) (map[string]bool, error) {
	cond, visible, err := s.viewCond(ctx, f)
	if err != nil || !visible {
		return map[string]bool{}, err
	}
	return tx.ExistingIDs(ctx, f.Relation.To, ids, cond)
}

// viewCond is the condition on f's target records the writer may see (visible false: none).
func (s *Service) viewCond(ctx context.Context, f *spec.Field) (query.Cond, bool, error) {
	if f.AllowHidden {
		return nil, true, nil
	}
	cond, err := s.authorize(ctx, s.resources[f.Relation.To], spec.ActionView)
	var e *Error
	if errors.As(err, &e) && (e.Code == CodeForbidden || e.Code == CodeUnauthorized) {
		return nil, false, nil // the writer can see none of them
	}
	return cond, err == nil, err
}

func (s *Service) writeLinks(ctx context.Context, tx *store.Exec, r *resource, rec *store.Record, in map[string]any) error {
	for i, f := range r.Fields {
		if !f.IsToMany() {
			continue
		}
		if _, given := in[f.Name]; !given {
			continue
		}
		ids, _ := rec.Values[i].([]string)
		if err := tx.SetLinks(ctx, r.Name, f.Name, rec.ID, ids); err != nil {
			return err
		}
	}
	return nil
}
