package service

import (
	"context"
	"errors"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// hideUnseenLinks makes membership in an N:M inverse false when the caller may not view the
// record it names: "<product id>" in products on tags would otherwise tell which tags a
// product the caller cannot see carries. Membership in a to-many field of the listed
// resource needs no check: the links are part of the records the list rule already admits.
func (s *Service) hideUnseenLinks(ctx context.Context, exec *store.Exec, r *resource, c query.Cond) (query.Cond, error) {
	switch x := c.(type) {
	case query.Has:
		f := r.Field(x.Field)
		if f == nil || !f.IsInverse() {
			return c, nil
		}
		seen, err := s.mayView(ctx, exec, s.resources[f.Relation.To], x.ID)
		if err != nil || seen {
			return c, err
		}
		return query.Or{}, nil
	case query.Not:
		inner, err := s.hideUnseenLinks(ctx, exec, r, x.Cond)
		return query.Not{Cond: inner}, err
	case query.And:
		out, err := s.hideUnseenEach(ctx, exec, r, x)
		return query.And(out), err
	case query.Or:
		out, err := s.hideUnseenEach(ctx, exec, r, x)
		return query.Or(out), err
	}
	return c, nil
}

func (s *Service) hideUnseenEach(ctx context.Context, exec *store.Exec, r *resource, cs []query.Cond) ([]query.Cond, error) {
	out := make([]query.Cond, len(cs))
	for i, c := range cs {
		var err error
		if out[i], err = s.hideUnseenLinks(ctx, exec, r, c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mayView reports whether the caller may view the record id of r.
func (s *Service) mayView(ctx context.Context, exec *store.Exec, r *resource, id string) (bool, error) {
	where, err := s.authorize(ctx, r, spec.ActionView)
	var e *Error
	if errors.As(err, &e) && (e.Code == CodeForbidden || e.Code == CodeUnauthorized) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	found, err := exec.ExistingIDs(ctx, r.Name, []string{id}, where)
	if err != nil {
		return false, AsError(err)
	}
	return found[id], nil
}

// expandLinked loads the records an N:M inverse links each of recs to (tags ← products), at
// most maxInverse per record, keeping those the caller may view (where).
func expandLinked(ctx context.Context, exec *store.Exec, r *resource, f *spec.Field, recs []*store.Record, where query.Cond) (*Expansion, error) {
	parents := make([]string, len(recs))
	for i, rec := range recs {
		parents[i] = rec.ID
	}
	links, err := exec.Linked(ctx, r.Name, f.Name, parents, maxInverse)
	if err != nil {
		return nil, AsError(err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, p := range parents {
		for _, id := range links[p] {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	related, err := exec.ByField(ctx, f.Relation.To, "id", ids, 0, where)
	if err != nil {
		return nil, AsError(err)
	}
	byID := make(map[string]*store.Record, len(related))
	for _, rec := range related {
		byID[rec.ID] = rec
	}
	exp := &Expansion{ByParent: make(map[string][]*store.Record, len(parents))}
	for _, p := range parents {
		for _, id := range links[p] {
			if rec := byID[id]; rec != nil {
				exp.ByParent[p] = append(exp.ByParent[p], rec)
			}
		}
	}
	return exp, nil
}
