package service

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// DefaultAuthID is the default that stands for the id of the account making the request.
const DefaultAuthID = "auth.id"

// defaults returns the values a new record starts with.
func (r *resource) defaults(now any, p *Principal) []any {
	vals := make([]any, len(r.Fields))
	for i, f := range r.Fields {
		if f.IsToMany() {
			vals[i] = []string{}
		}
		if f.Rollup != nil && !f.HasDefault && f.Rollup.Func != "min" && f.Rollup.Func != "max" {
			vals[i] = convertNumber(f, int64(0)) // a sum or count over no children, as after the last one goes
			continue
		}
		if !f.HasDefault || f.Default == nil {
			continue
		}
		text := f.Default.(string)
		if text == DefaultAuthID {
			if p != nil && p.ID != "" { // an API key is no account: the field stays empty
				vals[i] = p.ID
			}
			continue
		}
		if f.Type == spec.TypeDatetime && text == "now" {
			vals[i] = now
			continue
		}
		var raw any = text
		switch f.Type {
		case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
			raw = json.Number(text)
		case spec.TypeBoolean:
			raw, _ = strconv.ParseBool(text)
		}
		vals[i], _, _ = coerce(f, raw)
	}
	return vals
}

// apply validates every key of in and sets it on rec, collecting every problem in errs.
func (r *resource) apply(rec *store.Record, in map[string]any, errs *fieldErrors) {
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.applyOne(rec, k, in[k], errs)
	}
}

// requireFields reports required fields without a value: all of them (create, PUT), or
// only those the input set to null (PATCH). It runs after CEL defaults and computed fields.
func (r *resource) requireFields(rec *store.Record, in map[string]any, requireAll bool, errs *fieldErrors, blocked map[string]bool) {
	for i, f := range r.Fields {
		_, given := in[f.Name]
		if f.Required && rec.Values[i] == nil && (requireAll || given) && !hasField(*errs, f.Name) && !blocked[f.Name] {
			errs.add(f.Name, "required", "is required")
		}
	}
}

func (r *resource) applyOne(rec *store.Record, key string, raw any, errs *fieldErrors) {
	f := r.Field(key)
	switch {
	case f == nil && (key == "id" || key == "created_at" || key == "updated_at"):
		errs.add(key, "readonly", "is set by the server")
		return
	case f == nil || (f.Hidden && f.Readonly): // a field no client reads or writes is none of theirs
		errs.add(key, "unknown_field", "is not a field of %s", r.Name)
		return
	case f.Readonly || f.IsInverse():
		errs.add(key, "readonly", "cannot be written")
		return
	}
	idx := r.index(f)
	v, code, msg := coerce(f, raw)
	if code != "" {
		errs.add(key, code, "%s", msg)
		return
	}
	if v == nil && f.IsToMany() && !f.Required {
		// null clears the links, as [] does: the record answers [] (never null, as the OpenAPI
		// document says), and a list already empty is no change.
		v = []string{}
	}
	if v != nil {
		if code, msg := r.rules[idx].check(f, v); code != "" {
			errs.add(key, code, "%s", msg)
			return
		}
	}
	rec.Values[idx] = v
}

func (r *resource) index(f *spec.Field) int {
	for i, x := range r.Fields {
		if x == f {
			return i
		}
	}
	return -1
}

func (r *resource) sortErrors(errs fieldErrors) {
	pos := func(name string) int {
		if f := r.Field(name); f != nil {
			return r.index(f)
		}
		return len(r.Fields)
	}
	sort.SliceStable(errs, func(i, j int) bool { return pos(errs[i].Field) < pos(errs[j].Field) })
}

func hasField(errs fieldErrors, name string) bool {
	for _, e := range errs {
		if e.Field == name {
			return true
		}
	}
	return false
}
