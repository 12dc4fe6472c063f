package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// MaxExpandDepth bounds an expand path: booking.unit.property is three relations deep, each
// level one more query per page.
const MaxExpandDepth = 3

// expandNode is one relation of the tree the expand paths make: unit.property and unit.owner
// share unit, which is read once. where is the target's view rule, read before any record.
type expandNode struct {
	name  string
	where query.Cond
	sub   []*expandNode
}

// parseExpand validates ?expand=: comma-separated paths, each a relation of the resource or
// a dotted path through relations of the records it leads to (unit.property). It returns the
// paths as given, each once (a path given twice is read once, as one-level expand always did).
func (s *Service) parseExpand(r *resource, v string, errs *fieldErrors) []string {
	var paths []string
	for _, path := range strings.Split(v, ",") {
		if msg := s.checkExpandPath(r, path); msg != "" {
			errs.add("expand", "invalid_expand", "%s", msg)
			return nil
		}
		if !slices.Contains(paths, path) {
			paths = append(paths, path)
		}
	}
	return paths
}

// checkExpandPath says what is wrong with one expand path, or "". A path holds at most one
// relation that lists many records (to-many or inverse): below a list of up to 100 records
// per parent, another one would read up to 100 times as many again.
func (s *Service) checkExpandPath(r *resource, path string) string {
	names := strings.Split(path, ".")
	if len(names) > MaxExpandDepth {
		return fmt.Sprintf("%q is %d relations deep (at most %d)", path, len(names), MaxExpandDepth)
	}
	in, lists := "", 0
	if len(names) > 1 {
		in = fmt.Sprintf(" (in %q)", path)
	}
	for _, name := range names {
		if name == "" {
			return fmt.Sprintf("%q has an empty relation name", path)
		}
		f := r.Field(name)
		if f == nil || f.Relation == nil || f.Hidden {
			return fmt.Sprintf("%q is not a relation of %s%s", name, r.Name, in)
		}
		if f.IsToMany() || f.IsInverse() {
			lists++
		}
		if lists > 1 {
			return fmt.Sprintf("%q expands a list of records within another (a path may hold one to-many or inverse relation)", path)
		}
		r = s.resources[f.Relation.To]
	}
	return ""
}

// expandTree merges validated paths into a tree, in the order they were given.
func expandTree(paths []string) []*expandNode {
	var top []*expandNode
	for _, path := range paths {
		level := &top
		for _, name := range strings.Split(path, ".") {
			i := slices.IndexFunc(*level, func(n *expandNode) bool { return n.name == name })
			if i < 0 {
				*level = append(*level, &expandNode{name: name})
				i = len(*level) - 1
			}
			level = &(*level)[i].sub
		}
	}
	return top
}

// authorizeTree reads each expanded resource's view rule before any record is read: a path
// through a resource the caller may not view is refused whatever the records hold, and the
// records shown at every level obey their own resource's rule, like a direct read.
func (s *Service) authorizeTree(ctx context.Context, r *resource, nodes []*expandNode) error {
	for _, n := range nodes {
		to := s.resources[r.Field(n.name).Relation.To]
		var err error
		if n.where, err = s.authorize(ctx, to, spec.ActionView); err != nil {
			return err
		}
		if err := s.authorizeTree(ctx, to, n.sub); err != nil {
			return err
		}
	}
	return nil
}

// expand loads the related records each path names: one query per relation of the tree per
// page (two for an N:M inverse: its links, then its records), never one per record.
func (s *Service) expand(ctx context.Context, exec *store.Exec, r *resource, recs []*store.Record, paths []string) (map[string]*Expansion, error) {
	if len(paths) == 0 || len(recs) == 0 {
		return nil, nil
	}
	tree := expandTree(paths)
	if err := s.authorizeTree(ctx, r, tree); err != nil {
		return nil, err
	}
	return s.expandLevel(ctx, exec, r, recs, tree)
}

// expandLevel expands nodes on recs, then each node's own relations on the records it read.
func (s *Service) expandLevel(ctx context.Context, exec *store.Exec, r *resource, recs []*store.Record, nodes []*expandNode) (map[string]*Expansion, error) {
	if len(recs) == 0 {
		return nil, nil // nothing below: no query
	}
	out := make(map[string]*Expansion, len(nodes))
	for _, n := range nodes {
		f := r.Field(n.name)
		exp, err := s.expandRelation(ctx, exec, r, f, recs, n.where)
		if err != nil {
			return nil, err
		}
		if len(n.sub) > 0 {
			if exp.Nested, err = s.expandLevel(ctx, exec, s.resources[f.Relation.To], exp.records(), n.sub); err != nil {
				return nil, err
			}
		}
		out[n.name] = exp
	}
	return out, nil
}

// expandRelation reads the records f relates recs to that where admits, in one query (two
// for an N:M inverse).
func (s *Service) expandRelation(ctx context.Context, exec *store.Exec, r *resource, f *spec.Field, recs []*store.Record, where query.Cond) (*Expansion, error) {
	switch {
	case f.IsInverse() && f.Relation.Many:
		return expandLinked(ctx, exec, r, f, recs, where)
	case f.IsInverse():
		parents := make([]string, len(recs))
		for i, rec := range recs {
			parents[i] = rec.ID
		}
		children, err := exec.ByField(ctx, f.Relation.To, f.Relation.Inverse, parents, maxInverse, where)
		if err != nil {
			return nil, err
		}
		child := s.spec.Resource(f.Relation.To)
		return &Expansion{ByParent: groupByParent(child.Field(f.Relation.Inverse), child, children)}, nil
	}
	related, err := exec.ByField(ctx, f.Relation.To, "id", targetIDs(recs, r.index(f)), 0, where)
	if err != nil {
		return nil, err
	}
	exp := &Expansion{ByID: make(map[string]*store.Record, len(related))}
	for _, rec := range related {
		exp.ByID[rec.ID] = rec
	}
	return exp, nil
}

// records lists the related records once each, by id: the records the next level expands on
// (an N:M inverse may show one record under several parents).
func (e *Expansion) records() []*store.Record {
	seen := map[string]bool{}
	var out []*store.Record
	add := func(rec *store.Record) {
		if !seen[rec.ID] {
			seen[rec.ID] = true
			out = append(out, rec)
		}
	}
	for _, rec := range e.ByID {
		add(rec)
	}
	for _, recs := range e.ByParent {
		for _, rec := range recs {
			add(rec)
		}
	}
	slices.SortFunc(out, func(a, b *store.Record) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func groupByParent(back *spec.Field, child *spec.Resource, children []*store.Record) map[string][]*store.Record {
	idx := -1
	for i, f := range child.Fields {
		if f == back {
			idx = i
		}
	}
	out := map[string][]*store.Record{}
	for _, c := range children {
		if p, ok := c.Values[idx].(string); ok {
			out[p] = append(out[p], c)
		}
	}
	return out
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
