package openapi

import (
	"slices"

	"github.com/kiln-dev/kiln/internal/spec"
)

// listParamNames are the list parameters a field of that name cannot be a shorthand of: the
// server reads them first (service.listParams).
var listParamNames = []string{"limit", "cursor", "page", "sort", "filter", "fields", "expand", "count", "deleted"}

// shorthandParams documents ?{field}={value} on r's list — field == value (null: no value), and
// on a many-to-many relation the records linked to that id — for every field the server
// accepts it on (service's shorthand): not hidden, not json or file, not the inverse side of a
// one-to-many relation. Generated clients typed the README's ?category=<id> as an error.
func shorthandParams(r *spec.Resource) []obj {
	out := []obj{queryParam("id", "Shorthand for id == value.", obj{"type": "string", "format": "uuid"})}
	for _, f := range r.Fields {
		if f.Hidden || f.StoredAsJSON() || slices.Contains(listParamNames, f.Name) {
			continue
		}
		linked := f.IsToMany() || (f.IsInverse() && f.Relation.Many)
		if f.Relation != nil && f.Relation.Kind != spec.RelToOne && !linked {
			continue
		}
		desc := "Shorthand for " + f.Name + " == value; null matches the records without one."
		if linked {
			desc = "The records linked to the " + f.Relation.To + " record with this id."
		}
		out = append(out, queryParam(f.Name, desc, shorthandSchema(f)))
	}
	return out
}

// shorthandSchema is the type of a shorthand's value as the query string carries it.
func shorthandSchema(f *spec.Field) obj {
	switch {
	case f.Relation != nil || f.Type == spec.TypeUUID:
		return obj{"type": "string", "format": "uuid"}
	case f.Type == spec.TypeEnum:
		return obj{"type": "string", "enum": f.Values}
	case f.Type == spec.TypeInteger:
		return obj{"type": "integer"}
	case f.Type == spec.TypeNumber || f.Type == spec.TypeDecimal:
		return obj{"type": "number"}
	case f.Type == spec.TypeBoolean:
		return obj{"type": "boolean"}
	case f.Type == spec.TypeDate:
		return obj{"type": "string", "format": "date"}
	case f.Type == spec.TypeDatetime:
		return obj{"type": "string", "format": "date-time"}
	}
	return obj{"type": "string"}
}
