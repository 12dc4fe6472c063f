package service

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// List limits.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	maxSortKeys  = 5
	maxPage      = 10000
)

// ListParams is a parsed, validated list request.
type ListParams struct {
	Query  query.List
	Fields []string // empty: all visible fields
	Expand []string // paths of relations: unit, unit.property
	sort   string   // the sort text a cursor is bound to
	scans  bool     // an unindexed predicate or sort: runs under the scan slots
}

var listParams = []string{"limit", "cursor", "page", "sort", "filter", "fields", "expand", "count", "deleted"}

// ParseList validates list query parameters for a resource; every problem is reported at
// once, each naming its parameter. Names of fields come from the spec, never the request.
func (s *Service) ParseList(resName string, params url.Values) (*ListParams, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	p := &ListParams{Query: query.List{Limit: DefaultLimit}}
	var errs fieldErrors
	var conds []query.Cond
	for name, vals := range params {
		if len(vals) != 1 {
			errs.add(name, "repeated", "give this parameter once")
			continue
		}
		v := vals[0]
		switch name {
		case "limit":
			p.Query.Limit = parseIntParam(&errs, name, v, 1, MaxLimit)
		case "count":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs.add(name, "type", "must be true or false")
			}
			p.Query.Count = b
		case "filter":
			c, err := r.filter.Compile(v)
			if err != nil {
				errs.add(name, "invalid_filter", "%s", clientMessage(err))
				continue
			}
			conds = append(conds, c)
		case "sort", "cursor", "fields", "expand", "page":
		case "deleted":
			p.Query.Deleted = r.parseDeleted(&errs, v)
		default:
			c, code, msg := r.shorthand(name, v)
			if code != "" {
				errs.add(name, code, "%s", msg)
				continue
			}
			conds = append(conds, c)
		}
	}
	p.Query.Where = query.AndOf(conds...)
	s.parseShape(r, p, params, &errs)
	r.checkCost(p, &errs)
	r.parsePaging(p, params, &errs)
	return p, errs.err(CodeMalformed, "the list request has invalid parameters")
}

func clientMessage(err error) string {
	if e, ok := err.(*expr.Error); ok {
		return e.Message
	}
	return "invalid"
}

func parseIntParam(errs *fieldErrors, name, v string, lo, hi int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		errs.add(name, "range", "must be a whole number from %d to %d", lo, hi)
		return lo
	}
	return n
}

// parseDeleted reads ?deleted=true, which lists the soft-deleted records of a soft-delete
// resource (for those who may restore them).
func (r *resource) parseDeleted(errs *fieldErrors, v string) bool {
	if !r.SoftDelete {
		errs.add("deleted", "unknown_parameter", "is only for resources with soft_delete")
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		errs.add("deleted", "type", "must be true or false")
	}
	return b
}

// shorthand turns ?field=value into field == value, and ?links=<id> on an N:M relation into
// "<id>" in links.
func (r *resource) shorthand(name, v string) (query.Cond, string, string) {
	f := r.Field(name)
	if (f == nil && name != "id") || (f != nil && f.Hidden) { // a hidden field is named as no field
		return nil, "unknown_parameter", "is not a list parameter (" + strings.Join(listParams, ", ") + ") or a field of " + r.Name
	}
	if f != nil && (f.IsToMany() || (f.IsInverse() && f.Relation.Many)) {
		id, ok := validID(v)
		if !ok {
			return nil, "format", "must be the UUID of a linked record (?" + name + "=<id> lists the records linked to it)"
		}
		return query.Has{Field: name, ID: id}, "", ""
	}
	if f != nil && (f.StoredAsJSON() || (f.Relation != nil && f.Relation.Kind != spec.RelToOne)) {
		return nil, "not_filterable", "cannot be filtered on"
	}
	if v == "null" {
		return query.Compare{Field: name, Op: query.Eq, Value: nil}, "", ""
	}
	if f == nil {
		id, ok := validID(v)
		if !ok {
			return nil, "format", "must be a UUID"
		}
		return query.Compare{Field: name, Op: query.Eq, Value: id}, "", ""
	}
	raw := textToJSON(f, v)
	val, code, msg := coerce(f, raw)
	if code != "" {
		return nil, code, msg
	}
	return query.Compare{Field: name, Op: query.Eq, Value: val}, "", ""
}

// textToJSON reads a query-string value as the JSON value a body would carry.
func textToJSON(f *spec.Field, v string) any {
	switch f.Type {
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
		return json.Number(v)
	case spec.TypeBoolean:
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
		return v
	}
	return v
}

// parseShape reads sort, fields and expand.
func (s *Service) parseShape(r *resource, p *ListParams, params url.Values, errs *fieldErrors) {
	if v := params.Get("sort"); v != "" {
		p.sort = v
		p.Query.Sort = r.parseSort(v, errs)
	}
	if v := params.Get("fields"); v != "" {
		p.Fields = r.parseFields(v, errs)
	}
	if v := params.Get("expand"); v != "" {
		p.Expand = s.parseExpand(r, v, errs)
	}
	r.checkInverseFields(p, errs)
	for _, path := range p.Expand {
		// A relation asked to be expanded is shown, also when ?fields= does not name it
		// (it was dropped without a word, its records read for nothing); so is the first
		// relation of a dotted path, which holds the rest.
		name, _, _ := strings.Cut(path, ".")
		if p.Fields != nil && !slices.Contains(p.Fields, name) {
			p.Fields = append(p.Fields, name)
		}
	}
}

// checkInverseFields refuses an inverse relation in ?fields= that no expand path starts with:
// an inverse is shown only expanded, so it was dropped without a word (a trial).
func (r *resource) checkInverseFields(p *ListParams, errs *fieldErrors) {
	for _, name := range p.Fields {
		f := r.Field(name)
		if f == nil || !f.IsInverse() || slices.ContainsFunc(p.Expand, func(path string) bool {
			first, _, _ := strings.Cut(path, ".")
			return first == name
		}) {
			continue
		}
		errs.add("fields", "invalid_fields", "%q lists other records (an inverse relation): it is shown only with expand=%s", name, name)
		return
	}
}

func (r *resource) parseSort(v string, errs *fieldErrors) []query.Sort {
	var out []query.Sort
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ",") {
		desc := strings.HasPrefix(part, "-")
		name := strings.TrimPrefix(part, "-")
		if !r.sortable(name) {
			errs.add("sort", "invalid_sort", "cannot sort by %q: %s", name, r.unsortable(name))
			return nil
		}
		if seen[name] {
			errs.add("sort", "invalid_sort", "%q appears twice", name)
			return nil
		}
		seen[name] = true
		if name == "id" {
			if desc {
				errs.add("sort", "invalid_sort", "id sorts ascending only (it breaks ties)")
			}
			break
		}
		out = append(out, query.Sort{Field: name, Desc: desc})
	}
	if len(out) > maxSortKeys {
		errs.add("sort", "invalid_sort", "sort by at most %d fields", maxSortKeys)
	}
	return out
}

func (r *resource) sortable(name string) bool {
	if name == "id" || name == "created_at" || name == "updated_at" {
		return true
	}
	f := r.Field(name)
	return f != nil && f.Stored() && !f.Hidden && !f.StoredAsJSON()
}

// unsortable says why a list cannot be sorted by name, a field of r or not.
func (r *resource) unsortable(name string) string {
	f := r.Field(name)
	switch {
	case f == nil || f.Hidden:
		return "use fields of " + r.Name + ", optionally prefixed with -"
	case f.IsToMany() || f.IsInverse():
		return "it lists other records; sort by a field of one value"
	case f.Type == spec.TypeFile:
		return "a file has no order; sort by another field"
	}
	return "its values (" + string(f.Type) + ") have no order; sort by another field"
}

func (r *resource) parseFields(v string, errs *fieldErrors) []string {
	var out []string
	for _, name := range strings.Split(v, ",") {
		f := r.Field(name)
		switch {
		case name == "id" || name == "created_at" || name == "updated_at":
		case f == nil || f.Hidden:
			errs.add("fields", "invalid_fields", "%q is not a field of %s", name, r.Name)
			return nil
		}
		out = append(out, name)
	}
	return out
}
