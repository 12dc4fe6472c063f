package kiln

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/selftest"
	"github.com/kiln-dev/kiln/internal/spec"
)

// The test env reads the list parameters a test sent by itself, not with the service's
// parameter parser, so a parser that misreads them (a sort that ignores "-", a shorthand
// that compares the wrong way) is caught by comparing the API's answer with this reading.

// sortKey is one key of ?sort=.
type sortKey struct {
	field string
	desc  bool
}

// listQuery is a list request as the test env reads it: the sort keys, and the filter and
// each field=value shorthand as CEL conditions for expr's oracle.
type listQuery struct {
	sorts []sortKey
	conds []string
}

// shapeParams shape or page a list but do not change which rows it selects or their order.
var shapeParams = map[string]bool{"limit": true, "cursor": true, "page": true, "fields": true, "expand": true, "count": true}

func readListQuery(r *spec.Resource, params url.Values) (*listQuery, error) {
	lq := &listQuery{}
	for name, vals := range params {
		if len(vals) != 1 {
			return nil, fmt.Errorf("list parameter %s given %d times", name, len(vals))
		}
		v := vals[0]
		switch {
		case shapeParams[name]:
		case name == "sort":
			keys, err := readSort(r, v)
			if err != nil {
				return nil, err
			}
			lq.sorts = keys
		case name == "filter":
			lq.conds = append(lq.conds, v)
		default:
			c, err := shorthandCEL(r, name, v)
			if err != nil {
				return nil, err
			}
			lq.conds = append(lq.conds, c)
		}
	}
	return lq, nil
}

// readSort reads "-price,name": keys in order, "-" for descending; id ends the keys.
func readSort(r *spec.Resource, v string) ([]sortKey, error) {
	var keys []sortKey
	for _, part := range strings.Split(v, ",") {
		name, desc := strings.CutPrefix(part, "-")
		if name == "id" {
			break
		}
		if name != "created_at" && name != "updated_at" {
			if f := r.Field(name); f == nil || !f.Stored() {
				return nil, fmt.Errorf("sort: %s has no sortable field %q", r.Name, name)
			}
		}
		keys = append(keys, sortKey{field: name, desc: desc})
	}
	return keys, nil
}

var numberText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// shorthandCEL reads ?field=value (also a database check's field: value) as the CEL
// condition field == value, the literal typed by the field: "null" is null, numbers and
// booleans bare, date-times as timestamp("..."), everything else a string; on an N:M
// relation, "<id>" in field.
func shorthandCEL(r *spec.Resource, name, v string) (string, error) {
	if f := r.Field(name); f != nil {
		if _, _, _, linked := r.Link(f); linked { // ?tags=<id>: membership in an N:M relation
			return strconv.Quote(v) + " in " + name, nil
		}
	}
	if name != "id" && name != "created_at" && name != "updated_at" {
		if f := r.Field(name); f == nil || !f.Stored() {
			return "", fmt.Errorf("%s has no field %q to compare", r.Name, name)
		}
	}
	if v == "null" {
		return name + " == null", nil
	}
	switch typeOf(r, name) {
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
		if !numberText.MatchString(v) {
			return "", fmt.Errorf("%s=%s: not a number", name, v)
		}
		return name + " == " + v, nil
	case spec.TypeBoolean:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", fmt.Errorf("%s=%s: not true or false", name, v)
		}
		return name + " == " + strconv.FormatBool(b), nil
	case spec.TypeDatetime:
		return name + " == timestamp(" + strconv.Quote(v) + ")", nil
	}
	return name + " == " + strconv.Quote(v), nil
}

// typeOf is a field's type; system date-times are date-times, ids are text.
func typeOf(r *spec.Resource, name string) spec.FieldType {
	switch name {
	case "created_at", "updated_at":
		return spec.TypeDatetime
	case "id":
		return spec.TypeUUID
	}
	return r.Field(name).Type
}

// Shape lists the fields a record of resource shows, from the spec: every field but hidden
// ones, each relation with its kind.
func (e *TestEnv) Shape(resource string) ([]selftest.FieldShape, error) {
	r := e.app.Spec.Resource(resource)
	if r == nil {
		return nil, errors.New("no resource " + resource)
	}
	var out []selftest.FieldShape
	for _, f := range r.Fields {
		if f.Hidden {
			continue
		}
		fs := selftest.FieldShape{Name: f.Name}
		switch {
		case f.IsInverse():
			fs.Relation = selftest.Inverse
		case f.IsToMany():
			fs.Relation = selftest.ToMany
		case f.Relation != nil:
			fs.Relation = selftest.ToOne
		}
		out = append(out, fs)
	}
	return out, nil
}
