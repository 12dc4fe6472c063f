package derive

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/example"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Unique indexes (indexes: entries with unique: true) hold a combination of fields to one
// record. Every file of a run writes to one database, and a run may be repeated against a live
// server, so the records the files make must differ in that combination, not only within a
// file. A field of the index that differs per record by itself (a unique field, text carrying
// {unique}) is enough; else one field takes a random value in every body ({random:…}, never
// handed out twice in a run), as a unique field without room for {unique} does; else a to-one
// relation bodies set (each file refers to setup records of its own, and a file's later
// records get targets of their own: uniqueOn); else the records cannot be derived, and the
// files that would make them are gaps rather than cases that fail on a correct server. A
// relation comes last: records made for different purposes in one file (a setup unit, and the
// unit a lease of the file's first records gets) share the setup target, so a (property,
// label) index whose label kept its example clashed (409) and failed the cases after it.

// minRandomValues is the fewest values a field must admit to take a random one per record: a
// run makes dozens of records of a resource, and each run against a live server draws anew.
const minRandomValues = 1000

// randomInIndex reports whether bodies send f a random value because it keeps the records of a
// unique index apart.
func randomInIndex(r *spec.Resource, f *spec.Field) bool {
	for _, idx := range r.Indexes {
		if pick, _ := keptApartBy(r, idx); pick == f {
			return true
		}
	}
	return false
}

// keptApartBy says how derived records differ under idx: ok with no field to change (none is
// unique, or a field differs by itself), ok with the field to send random values, or not ok.
func keptApartBy(r *spec.Resource, idx *spec.Index) (random *spec.Field, ok bool) {
	if !idx.Unique || slices.ContainsFunc(idx.Fields, func(name string) bool { return apart(r, r.Field(name)) }) {
		return nil, true
	}
	for _, name := range idx.Fields {
		if f := r.Field(name); randomizable(r, f) {
			return f, true
		}
	}
	return nil, slices.ContainsFunc(idx.Fields, func(name string) bool { return linkedApart(r, r.Field(name)) })
}

// apart reports whether f's derived values differ in every record of a run by themselves: a
// unique field (body makes it so), or text carrying {unique} (one per file, a suffix per
// record).
func apart(r *spec.Resource, f *spec.Field) bool {
	switch {
	case f == nil || !writable(r, f) || f.Relation != nil:
		return false
	case f.Unique:
		return isText(f) || randomUnique(f)
	}
	return isText(f) && example.CarriesUnique(f, "{unique}999")
}

// linkedApart reports whether f is a to-one relation bodies set: mostly to a target of the
// record's own (each file refers to setup records of its own, and a file's later records get
// targets of their own: uniqueOn), but a file's setup records share theirs.
func linkedApart(r *spec.Resource, f *spec.Field) bool {
	return f != nil && writable(r, f) && f.Relation != nil && f.Relation.Kind == spec.RelToOne && f.Relation.To != r.Name
}

// randomizable reports whether f may take a random value in every body: bodies send it, no
// rule reads it (a random value could break the rule: check_out > check_in), and its type has
// room for a value per record — dates, wide numbers, text (from its pattern, if any).
func randomizable(r *spec.Resource, f *spec.Field) bool {
	if f == nil || !writable(r, f) || f.Relation != nil || ruleReads(r, f) {
		return false
	}
	switch f.Type {
	case spec.TypeDate, spec.TypeDatetime, spec.TypeString, spec.TypeText, spec.TypeEmail, spec.TypeURL:
		return true
	case spec.TypeInteger:
		lo, hi := within(f, 1, 1e9)
		return hi-lo+1 >= minRandomValues
	case spec.TypeNumber, spec.TypeDecimal:
		lo, hi := within(f, 0, 1e6)
		scale := 2
		if f.Type == spec.TypeDecimal {
			scale = f.Scale
			if f.Precision > 0 {
				hi = min(hi, math.Pow10(f.Precision-f.Scale)-1)
			}
		}
		return (hi-lo)*math.Pow10(scale)+1 >= minRandomValues
	}
	return false // enums, booleans: few values; ids and JSON: none random
}

// within is f's min and max, or lo and hi where it has none: the range random values come from.
func within(f *spec.Field, lo, hi float64) (float64, float64) {
	if f.Min != nil {
		if v, err := strconv.ParseFloat(*f.Min, 64); err == nil {
			lo = v
		}
	}
	if f.Max != nil {
		if v, err := strconv.ParseFloat(*f.Max, 64); err == nil {
			hi = v
		}
	}
	return lo, hi
}

// crowded is why the records of r cannot be derived ("" when they can): a unique index with
// no field that can differ in every record.
func crowded(r *spec.Resource) string {
	for _, idx := range r.Indexes {
		if _, ok := keptApartBy(r, idx); !ok {
			return "the unique index on " + strings.Join(idx.Fields, ", ") + " holds no field that can differ in every " +
				"record a run makes (enums, booleans, narrow numbers, fields bodies do not set or rules read), so the " +
				"files' records would clash"
		}
	}
	return ""
}
