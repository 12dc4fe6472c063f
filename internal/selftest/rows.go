package selftest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// maxRowFailures bounds how many rows a shape failure names.
const maxRowFailures = 3

// rowShape is what each listed row must hold, read from the request's own ?fields= and
// ?expand= (not by the API's parameter parser) and the resource's fields (Env.Shape).
type rowShape struct {
	resource string
	keys     map[string]Relation // every key a row carries, with its relation kind
	expand   []string            // the relations shown as records, in keys
}

var systemKeys = []string{"id", "created_at", "updated_at"}

func (r *Runner) rowShape(first *http.Request) (*rowShape, error) {
	res, ok := r.Env.ResourceOfPath(first.URL.Path)
	if !ok {
		return nil, fmt.Errorf("%s names no resource", first.URL.Path)
	}
	fields, err := r.Env.Shape(res)
	if err != nil {
		return nil, err
	}
	q := first.URL.Query()
	asked, expand := splitList(q.Get("fields")), firstRelations(splitList(q.Get("expand")))
	s := &rowShape{resource: res, keys: map[string]Relation{}}
	for _, k := range systemKeys {
		s.keys[k] = NoRelation
	}
	for _, f := range fields {
		expanded := slices.Contains(expand, f.Name)
		shown := asked == nil || slices.Contains(asked, f.Name) || expanded
		if !shown || (f.Relation == Inverse && !expanded) {
			continue
		}
		s.keys[f.Name] = f.Relation
		if expanded {
			s.expand = append(s.expand, f.Name)
		}
	}
	return s, nil
}

// firstRelations reads expand paths as the relations of the listed resource they start with:
// expand=unit.property shows unit as records (property is expanded inside them).
func firstRelations(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		name, _, _ := strings.Cut(p, ".")
		out = append(out, name)
	}
	return out
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// checkRows holds every listed row to the fields the request asked for (exactly those and the
// expanded relations, or every visible field without ?fields=) and each relation to its form: an id (or ids), or
// with ?expand= the related records — the very ones the database links it to and the role
// may view (Env.Related).
func (r *Runner) checkRows(ctx context.Context, first *http.Request, items []any, who string) []string {
	shape, err := r.rowShape(first)
	if err != nil {
		return []string{"rows: " + err.Error()}
	}
	var out []string
	for _, it := range items {
		if len(out) >= maxRowFailures {
			break
		}
		if msg := shape.check(it); msg != "" {
			out = append(out, msg)
		}
	}
	if len(out) > 0 || len(shape.expand) == 0 {
		return out
	}
	return r.checkExpanded(ctx, shape, items, who)
}

// check compares one row's keys with the shape and each relation's form.
func (s *rowShape) check(item any) string {
	row, ok := item.(map[string]any)
	if !ok {
		return fmt.Sprintf("rows: a listed row is %T, not an object", item)
	}
	var extra, missing []string
	for k := range row {
		if _, want := s.keys[k]; !want {
			extra = append(extra, k)
		}
	}
	for k := range s.keys {
		if _, has := row[k]; !has {
			missing = append(missing, k)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	switch {
	case len(extra) > 0:
		return fmt.Sprintf("rows: row %v has field(s) the request did not ask for: %s", row["id"], strings.Join(extra, ", "))
	case len(missing) > 0:
		return fmt.Sprintf("rows: row %v lacks field(s) the request asked for: %s", row["id"], strings.Join(missing, ", "))
	}
	names := make([]string, 0, len(s.keys))
	for k := range s.keys {
		names = append(names, k)
	}
	sort.Strings(names) // the same row fails the same way every run
	for _, k := range names {
		rel := s.keys[k]
		if rel == NoRelation {
			continue
		}
		if _, err := relationIDs(row[k], rel, slices.Contains(s.expand, k)); err != nil {
			return fmt.Sprintf("rows: row %v: %s %v", row["id"], k, err)
		}
	}
	return ""
}

// checkExpanded compares each expanded relation's records with the ids the database holds.
func (r *Runner) checkExpanded(ctx context.Context, s *rowShape, items []any, who string) []string {
	rowIDs := ids(items)
	var out []string
	for _, field := range s.expand {
		want, err := r.Env.Related(ctx, who, s.resource, field, rowIDs)
		if err != nil {
			return append(out, "rows: "+err.Error())
		}
		for i, it := range items {
			got, _ := relationIDs(it.(map[string]any)[field], s.keys[field], true)
			sort.Strings(got)
			if !slices.Equal(got, want[rowIDs[i]]) {
				out = append(out, fmt.Sprintf("rows: row %s: expand=%s shows %v, the database links %v", rowIDs[i], field, got, want[rowIDs[i]]))
				break
			}
		}
	}
	return out
}

// relationIDs reads a relation's value in its form: to-one an id or null, to-many a list of
// ids; expanded, records (objects with an id) in their place. It returns the ids.
func relationIDs(v any, rel Relation, expanded bool) ([]string, error) {
	one := func(x any) (string, error) {
		if !expanded {
			if s, ok := x.(string); ok {
				return s, nil
			}
			return "", fmt.Errorf("should be an id, not %v", x)
		}
		m, ok := x.(map[string]any)
		if id, isText := m["id"].(string); ok && isText {
			return id, nil
		}
		return "", fmt.Errorf("should be an expanded record with an id, not %v", x)
	}
	if rel == ToOne {
		if v == nil {
			return nil, nil
		}
		id, err := one(v)
		return []string{id}, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("should be a list, not %v", v)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		id, err := one(x)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}
