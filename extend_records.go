package kiln

import (
	"context"
	"net/url"

	"github.com/kiln-dev/kiln/internal/service"
)

// Update changes a record as the principal (PATCH semantics: only the fields given).
func (rs *Records) Update(ctx context.Context, resource, id string, fields map[string]any) (*Record, error) {
	rec, err := rs.svc.Update(rs.as(ctx), resource, id, jsonFields(fields), false, service.WriteOpts{})
	if err != nil {
		return nil, err
	}
	return publicRecord(rs.svc, resource, rec), nil
}

// Delete removes a record as the principal.
func (rs *Records) Delete(ctx context.Context, resource, id string) error {
	return rs.svc.Delete(rs.as(ctx), resource, id, service.WriteOpts{})
}

// Page is one page of a list: its records, the cursor of the next page ("" on the last) and,
// when asked for with count=true, the number of records the query selects.
type Page struct {
	Records    []*Record
	NextCursor string
	Total      *int64
}

// List reads a page of the records the principal may list, with the list endpoint's query
// parameters (filter, sort, limit, cursor, page, count; a bad one is a 400 naming it):
//
//	call.Records.List(ctx, "orders", url.Values{"filter": {"status == 'paid'"}, "sort": {"-created_at"}})
func (rs *Records) List(ctx context.Context, resource string, params url.Values) (*Page, error) {
	p, err := rs.svc.ParseList(resource, params)
	if err != nil {
		return nil, err
	}
	got, err := rs.svc.List(rs.as(ctx), resource, p)
	if err != nil {
		return nil, err
	}
	out := &Page{Records: make([]*Record, len(got.Records)), NextCursor: got.NextCursor, Total: got.Total}
	for i, rec := range got.Records {
		out.Records[i] = publicRecord(rs.svc, resource, rec)
	}
	return out, nil
}

// Tx runs fn in one write transaction as the principal: what its Tx writes commits together
// or not at all (an error from fn, or a refused write, rolls every one back), under the same
// access rules, field rules, state machines, effects and events as the API's writes; after-hooks
// run once it commits. On PostgreSQL fn may run again when the transaction meets a
// serialization failure or deadlock: keep side effects out of it.
func (rs *Records) Tx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return rs.svc.InTx(rs.as(ctx), func(ctx context.Context, t *service.Tx) error {
		return fn(ctx, &Tx{svc: rs.svc, tx: t})
	})
}
