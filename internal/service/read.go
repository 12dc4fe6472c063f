package service

import (
	"context"
	"errors"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// maxInverse caps how many records an expanded inverse relation (1:N, or N:M) carries per record.
const maxInverse = 100

// Expansion holds the related records an expand asked for, keyed for the encoder:
// ByID for to-one and to-many targets, ByParent for inverse relations.
type Expansion struct {
	ByID     map[string]*store.Record
	ByParent map[string][]*store.Record
}

// Page is a list result.
type Page struct {
	Records    []*store.Record
	Expanded   map[string]*Expansion
	NextCursor string
	Total      *int64
}

// Get reads one record with its links and the expansions asked for.
func (s *Service) Get(ctx context.Context, resName, id string, expand []string) (*store.Record, map[string]*Expansion, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, nil, err
	}
	cond, err := s.authorize(ctx, r, spec.ActionView)
	if err != nil {
		return nil, nil, err
	}
	id, ok := validID(id)
	if !ok {
		return nil, nil, Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	exec := s.store.Reader()
	rec, err := exec.Get(ctx, r.Name, id, cond)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	if err != nil {
		return nil, nil, AsError(err)
	}
	exp, err := s.expand(ctx, exec, r, []*store.Record{rec}, expand)
	if err != nil {
		return nil, nil, err
	}
	return rec, exp, nil
}

// List runs a list query built by ParseList.
func (s *Service) List(ctx context.Context, resName string, p *ListParams) (*Page, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	cond, err := s.authorize(ctx, r, spec.ActionList)
	if err != nil {
		return nil, err
	}
	if p.Query.Deleted { // the trash: those who may restore (delete) a record may see it there
		del, err := s.authorize(ctx, r, spec.ActionDelete)
		if err != nil {
			return nil, err
		}
		cond = query.AndOf(cond, del)
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	if p.scans {
		release, err := s.scans.acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	q := p.Query
	exec := s.store.Reader()
	if q.Where, err = s.hideUnseenLinks(ctx, exec, r, q.Where); err != nil {
		return nil, err
	}
	q.Where = query.AndOf(cond, q.Where) // the row rule is part of the query, before paging
	res, err := exec.List(ctx, r.Name, q)
	if err != nil {
		return nil, AsError(err)
	}
	page := &Page{Records: res.Records}
	if p.Query.Count {
		page.Total = &res.Total
	}
	if res.More && p.Query.Offset == 0 && len(res.Records) > 0 {
		page.NextCursor = p.cursorAfter(r, res.Records[len(res.Records)-1])
	}
	if page.Expanded, err = s.expand(ctx, exec, r, page.Records, p.Expand); err != nil {
		return nil, err
	}
	return page, nil
}

// expand loads related records for each named relation: one query per relation per page.
func (s *Service) expand(ctx context.Context, exec *store.Exec, r *resource, recs []*store.Record, names []string) (map[string]*Expansion, error) {
	if len(names) == 0 || len(recs) == 0 {
		return nil, nil
	}
	out := make(map[string]*Expansion, len(names))
	for _, name := range names {
		f := r.Field(name)
		idx := r.index(f)
		exp := &Expansion{}
		// Expanded records obey their own resource's view rule, like a direct read.
		where, err := s.authorize(ctx, s.resources[f.Relation.To], spec.ActionView)
		if err != nil {
			return nil, err
		}
		if f.IsInverse() && f.Relation.Many {
			if exp, err = expandLinked(ctx, exec, r, f, recs, where); err != nil {
				return nil, err
			}
		} else if f.IsInverse() {
			parents := make([]string, len(recs))
			for i, rec := range recs {
				parents[i] = rec.ID
			}
			children, err := exec.ByField(ctx, f.Relation.To, f.Relation.Inverse, parents, maxInverse, where)
			if err != nil {
				return nil, err
			}
			exp.ByParent = groupByParent(s.spec.Resource(f.Relation.To).Field(f.Relation.Inverse), s.spec.Resource(f.Relation.To), children)
		} else {
			related, err := exec.ByField(ctx, f.Relation.To, "id", targetIDs(recs, idx), 0, where)
			if err != nil {
				return nil, err
			}
			exp.ByID = make(map[string]*store.Record, len(related))
			for _, rec := range related {
				exp.ByID[rec.ID] = rec
			}
		}
		out[name] = exp
	}
	return out, nil
}

func targetIDs(recs []*store.Record, idx int) []string {
	seen := map[string]bool{}
	var ids []string
	addID := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, rec := range recs {
		switch v := rec.Values[idx].(type) {
		case string:
			addID(v)
		case []string:
			for _, id := range v {
				addID(id)
			}
		}
	}
	return ids
}
