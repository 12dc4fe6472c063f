package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// Watcher decides which events of one resource a live-update stream's caller receives: the
// resource's list rule for the caller and the stream's filter, both checked against the
// record the event carries (after the write; before it, for a delete).
type Watcher struct {
	s    *Service
	r    *resource
	cond query.Cond // the list rule and the filter; nil: every record
}

// Watch authorizes a live-update stream of resName for ctx's principal — 401 or 403 as a
// list would answer — with p's filter (ParseList).
func (s *Service) Watch(ctx context.Context, resName string, p *ListParams) (*Watcher, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	cond, err := s.authorize(ctx, r, spec.ActionList)
	if err != nil {
		return nil, err
	}
	return &Watcher{s: s, r: r, cond: query.AndOf(cond, p.Query.Where)}, nil
}

// Record is the event's record when the caller may see it and the filter keeps it, nil when not.
func (w *Watcher) Record(ctx context.Context, ev *events.Event) (*store.Record, error) {
	raw := ev.New
	if raw == nil {
		raw = ev.Old
	}
	rec, err := w.r.eventRecord(raw)
	if err != nil {
		return nil, err
	}
	c := w.cond
	if c != nil {
		exec := w.s.store.Reader()
		if c, err = w.s.hideUnseenLinks(ctx, exec, w.r, c); err != nil {
			return nil, err
		}
		if c, err = w.resolveStored(ctx, exec, c, rec); err != nil {
			return nil, AsError(err)
		}
	}
	if !w.r.allowsValues(c, rec.Values, rec.ID) {
		return nil, nil
	}
	return rec, nil
}

// resolveStored decides the parts of c that the event's record alone cannot: a relation
// followed to another record (Rel) and links kept on the other side (Has on an inverse
// field), each by reading the database as it is now.
func (w *Watcher) resolveStored(ctx context.Context, exec *store.Exec, c query.Cond, rec *store.Record) (query.Cond, error) {
	decided := func(ok bool, err error) (query.Cond, error) {
		if ok {
			return query.And{}, err
		}
		return query.Or{}, err
	}
	switch x := c.(type) {
	case query.Rel:
		f := w.r.Field(x.Field)
		id, _ := rec.Values[w.r.index(f)].(string)
		if id == "" {
			return query.Or{}, nil
		}
		found, err := exec.ExistingIDs(ctx, f.Relation.To, []string{id}, x.Cond)
		return decided(found[id], err)
	case query.Has:
		if f := w.r.Field(x.Field); f == nil || !f.IsInverse() {
			return c, nil
		}
		found, err := exec.ExistingIDs(ctx, w.r.Name, []string{rec.ID}, x)
		return decided(found[rec.ID], err)
	case query.Not:
		inner, err := w.resolveStored(ctx, exec, x.Cond, rec)
		return query.Not{Cond: inner}, err
	case query.And, query.Or:
		return w.resolveEach(ctx, exec, x, rec)
	}
	return c, nil
}

func (w *Watcher) resolveEach(ctx context.Context, exec *store.Exec, c query.Cond, rec *store.Record) (query.Cond, error) {
	var in []query.Cond
	and, isAnd := c.(query.And)
	if isAnd {
		in = and
	} else {
		in = c.(query.Or)
	}
	out := make([]query.Cond, len(in))
	for i, x := range in {
		var err error
		if out[i], err = w.resolveStored(ctx, exec, x, rec); err != nil {
			return nil, err
		}
	}
	if isAnd {
		return query.And(out), nil
	}
	return query.Or(out), nil
}

// eventRecord turns the JSON record an event carries (recordJSON) back into a record.
func (r *resource) eventRecord(raw json.RawMessage) (*store.Record, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode the event's record: %w", err)
	}
	rec := &store.Record{Values: make([]any, len(r.Fields))}
	rec.ID, _ = m["id"].(string)
	created, _ := m["created_at"].(string)
	updated, _ := m["updated_at"].(string)
	rec.CreatedAt, _ = value.ParseTime(created)
	rec.UpdatedAt, _ = value.ParseTime(updated)
	if n, ok := m["version"].(json.Number); ok {
		rec.Version, _ = n.Int64()
	}
	for i, f := range r.Fields {
		v := m[f.Name]
		switch {
		case v == nil || f.Hidden || f.IsInverse():
		case f.StoredAsJSON(): // kept as its JSON text, as the store keeps it
			rec.Values[i], _ = v.(string)
		default:
			if x, code, _ := coerce(f, v); code == "" {
				rec.Values[i] = x
			}
		}
	}
	return rec, nil
}

// EventPos is where a stream resumes after the event with id (Last-Event-ID).
func (s *Service) EventPos(ctx context.Context, id int64) (events.Pos, error) {
	p, err := events.PosOf(ctx, s.store.Reader(), id)
	if err != nil {
		return events.Pos{}, AsError(err)
	}
	return p, nil
}

// maxSkipped bounds the events a starting stream skips as already committed.
const maxSkipped = 10000

// CommittedEvents lists the resource's events after pos already committed: a stream that
// starts now skips them.
func (s *Service) CommittedEvents(ctx context.Context, resName string, pos events.Pos) (map[int64]bool, error) {
	ids, err := events.Committed(ctx, s.store.Reader(), pos, resName, maxSkipped)
	if err != nil {
		return nil, AsError(err)
	}
	return ids, nil
}
