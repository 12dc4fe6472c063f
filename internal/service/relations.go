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
// a request hears about every invalid field at once; fields already refused are not looked up.
func (s *Service) checkRelations(ctx context.Context, tx *store.Exec, r *resource, rec *store.Record, in map[string]any, trusted map[string]bool, errs *fieldErrors) error {
	for i, f := range r.Fields {
		if f.Relation == nil || f.IsInverse() || rec.Values[i] == nil || trusted[f.Name] || hasField(*errs, f.Name) {
			continue
		}
		if _, given := in[f.Name]; !given {
			continue
		}
		ids, _ := rec.Values[i].([]string)
		if one, ok := rec.Values[i].(string); ok {
			ids = []string{one}
		}
		found, err := s.visibleIDs(ctx, tx, f, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !found[id] {
				errs.add(f.Name, "not_found", "no %s record has id %s", f.Relation.To, id)
				break
			}
		}
	}
	return nil
}

// visibleIDs returns which of ids exist in f's target resource and are visible to the writer.
func (s *Service) visibleIDs(ctx context.Context, tx *store.Exec, f *spec.Field, ids []string) (map[string]bool, error) {
	var cond query.Cond
	if !f.AllowHidden {
		var err error
		cond, err = s.authorize(ctx, s.resources[f.Relation.To], spec.ActionView)
		var e *Error
		if errors.As(err, &e) && (e.Code == CodeForbidden || e.Code == CodeUnauthorized) {
			return map[string]bool{}, nil // the writer can see none of them
		}
		if err != nil {
			return nil, err
		}
	}
	return tx.ExistingIDs(ctx, f.Relation.To, ids, cond)
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
