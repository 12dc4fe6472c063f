package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	s      *Service
	r      *resource
	rule   query.Cond // the list rule; nil: every record
	filter query.Cond // the stream's filter; nil: every record
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
	return &Watcher{s: s, r: r, rule: cond, filter: p.Query.Where}, nil
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
	exec := w.s.store.Reader()
	filter := w.filter
	if filter != nil {
		// As in a list, only the filter's links hide what the caller may not see: the rule's
		// (auth.id in record.members) name the caller's own account.
		if filter, err = w.s.hideUnseenLinks(ctx, exec, w.r, filter); err != nil {
			return nil, err
		}
	}
	c, err := w.r.resolveStored(ctx, exec, query.AndOf(w.rule, filter), rec)
	if err != nil {
		return nil, AsError(err)
	}
	if !w.r.allowsValues(c, rec.Values, rec.ID) {
		return nil, nil
	}
	return rec, nil
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

// EventPos is where a stream resumes after the event with id (Last-Event-ID); ok is false
// for an id past every event committed (a database since reset or restored): the stream
// starts from now.
func (s *Service) EventPos(ctx context.Context, id int64) (p events.Pos, ok bool, err error) {
	p, err = events.PosOf(ctx, s.store.Reader(), id)
	switch {
	case errors.Is(err, events.ErrPastLast):
		return events.Pos{}, false, nil
	case err != nil:
		return events.Pos{}, false, AsError(err)
	}
	return p, true, nil
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
