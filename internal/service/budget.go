package service

import (
	"context"
	"runtime"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// MaxUnindexed bounds the predicates of one list request (filter and shorthand together)
// that no index can serve: each may scan the whole table.
const MaxUnindexed = 10

// scanSlots bounds how many list queries that scan (an unindexed predicate or sort) run at
// once: a few clients sending costly filters within their rate limits must not take every
// core from everybody else. Waiting for a slot counts against the query deadline.
type scanSlots chan struct{}

func newScanSlots() scanSlots { return make(scanSlots, max(1, runtime.GOMAXPROCS(0)/2)) }

// acquire waits for a slot until ctx ends; release with the returned func.
func (s scanSlots) acquire(ctx context.Context) (func(), error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, timeoutError(ctx.Err())
	}
}

// newShare is a resource's share of the database connections (PostgreSQL; nil on SQLite, whose
// writer is one connection anyway): at most that many requests on the resource hold or wait
// for connections at once. A table another session holds locked (a migration's ALTER TABLE,
// say) keeps its requests waiting up to their deadline, each on a connection; without a
// share, a few dozen of them took the whole pool and requests to every other table waited too.
// The rest (a quarter, at least two) stays for the others.
func newShare(conns int) scanSlots {
	if conns <= 0 {
		return nil
	}
	return make(scanSlots, max(1, conns-max(2, conns/4)))
}

// enter starts a request on resource r: its deadline (deadline) and, on PostgreSQL, a place in
// r's share of the connections, waited for within the deadline. done ends both.
func (s *Service) enter(ctx context.Context, r *resource) (_ context.Context, done func(), _ error) {
	ctx, cancel := s.deadline(ctx)
	if r.share == nil {
		return ctx, cancel, nil
	}
	release, err := r.share.acquire(ctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, func() { release(); cancel() }, nil
}

// deadline bounds everything a request does in the database (server.query_timeout).
func (s *Service) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := s.spec.Server.QueryTimeout; d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

func timeoutError(cause error) *Error {
	return &Error{Code: CodeTimeout, Message: "the database work of this request took longer than the server allows — a costly query, or rows or a table other work held locked: try again (a list may need a narrower filter)",
		RetryAfter: 1, Cause: cause}
}

// indexedFields lists the fields that lead an index: id, unique fields, to-one relations
// (each gets an index) and the first field of every declared index.
func indexedFields(r *spec.Resource) map[string]bool {
	out := map[string]bool{"id": true}
	for _, f := range r.Fields {
		if f.Stored() && (f.Unique || f.Relation != nil) {
			out[f.Name] = true
		}
	}
	for _, ix := range r.Indexes {
		if len(ix.Fields) > 0 {
			out[ix.Fields[0]] = true
		}
	}
	return out
}

// checkCost refuses a list whose conditions have too many unindexed predicates and marks it
// as scanning when it has any, or sorts by a field no index leads.
func (r *resource) checkCost(p *ListParams, errs *fieldErrors) {
	n := query.Unindexed(p.Query.Where, func(f string) bool { return r.indexed[f] })
	if n > MaxUnindexed {
		errs.add("filter", "too_costly", "the filter has %d conditions that no index serves (at most %d): "+
			"compare indexed fields, or use fewer substring and != conditions", n, MaxUnindexed)
	}
	p.scans = n > 0 || (len(p.Query.Sort) > 0 && !r.indexed[p.Query.Sort[0].Field])
}
