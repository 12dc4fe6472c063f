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
// ByID for to-one and to-many targets, ByParent for inverse relations; a dotted path's
// deeper levels hang below, in Nested.
type Expansion struct {
	ByID     map[string]*store.Record
	ByParent map[string][]*store.Record
	// Nested holds the expansions of these records, by relation of their resource
	// (?expand=unit.property: property on the units); nil when the path ends here.
	Nested map[string]*Expansion
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
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	defer leave()
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
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return nil, err
	}
	defer leave()
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
