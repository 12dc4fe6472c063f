package derive

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/example"
	"github.com/kiln-dev/kiln/internal/spec"
)

// writable reports whether a body may carry the field: not set by Kiln, not guarded by write
// roles, not an inverse relation, and not a relation to the resource itself.
func writable(r *spec.Resource, f *spec.Field) bool {
	return settable(f) && (f.Relation == nil || f.Relation.To != r.Name || f.Required)
}

// settable reports whether any writer may send the field (bodies leave optional relations to
// the resource itself out, but their constraints are still checked).
func settable(f *spec.Field) bool {
	return !f.Readonly && !f.Hidden && !f.IsInverse() && len(f.Write) == 0
}

// settableBy reports whether role may send the field: any writer may, or role is one of the
// write roles that guard it.
func settableBy(f *spec.Field, role string) bool {
	return settable(f) || (role != "" && !f.Readonly && !f.Hidden && !f.IsInverse() && slices.Contains(f.Write, role))
}

// body is a valid body for r in field order; variant k varies the values (0 is the example).
func body(r *spec.Resource, k int, unique string, ref func(string) string) yaml.MapSlice {
	out := yaml.MapSlice{}
	for _, f := range r.Fields {
		if !writable(r, f) {
			continue
		}
		v := variant(f, k, unique, ref)
		if pinned(r, f) {
			// a rule reads it (guests <= room.capacity): its example, as written, in every body
			v = variant(f, 0, unique, ref)
		}
		if f.Unique && (isText(f) && !example.CarriesUnique(f, unique) || randomUnique(f)) || randomInIndex(r, f) {
			// the pattern has no room for {unique}, or the type none at all, or a unique index
			// has no other way to keep the records apart (distinct.go): a random value
			v = "{random:" + r.Name + "." + f.Name + "}"
		}
		out = append(out, yaml.MapItem{Key: f.Name, Value: v})
	}
	return out
}

// pinned reports whether f is its example in every body: a number with an example that a rule
// reads, unique on nothing (the file's records would clash), whose rules read no other number
// of the record that moves (min_players <= max_players: both move, or neither).
func pinned(r *spec.Resource, f *spec.Field) bool {
	if !numeric(f) || f.Example == nil || uniqueOn(r, f.Name) {
		return false
	}
	read := false
	for _, rule := range r.Rules {
		if !readsOwn(rule, f.Name) {
			continue
		}
		read = true
		for _, o := range r.Fields {
			if o != f && numeric(o) && readsOwn(rule, o.Name) && (o.Example == nil || uniqueOn(r, o.Name)) {
				return false
			}
		}
	}
	return read
}

// readsOwn reports whether a rule names the record's field (record.x, new.x, old.x) or blames it.
func readsOwn(rule *spec.LogicRule, field string) bool {
	if slices.Contains(rule.Fields, field) {
		return true
	}
	for _, v := range []string{"record.", "new.", "old."} {
		if reads(rule.Check.Text, v+field) {
			return true
		}
	}
	return false
}

func numeric(f *spec.Field) bool {
	return f.Type == spec.TypeInteger || f.Type == spec.TypeNumber || f.Type == spec.TypeDecimal
}

// variant is a valid value of f; different k give different values where the field allows.
func variant(f *spec.Field, k int, unique string, ref func(string) string) any {
	v := example.Value(f, example.Vars{Unique: unique, Ref: ref})
	switch f.Type {
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
		return plainNumber(shift(f, fmt.Sprint(v), k))
	case spec.TypeBoolean:
		if f.Example != nil {
			return v // the example in every body: a rule may need it (create_valid is variant 1)
		}
		return k%2 == 0
	case spec.TypeEnum:
		if len(f.Transitions) > 0 {
			return startState(f) // a state machine: records start in an initial state and stay there
		}
		if f.Example != nil {
			return v
		}
		return f.Values[k%len(f.Values)]
	case spec.TypeDatetime, spec.TypeDate:
		return dayAfter(f, k)
	}
	return v
}

// dayAfter is a date or date-time of f k days after its example (variant 0 is the example
// itself, as written), or after 2026-01-01 when it has none. Every date field of a body moves
// by the same k days, so a rule between two of them (ends_at > starts_at) holds in every
// variant as it holds for the examples.
func dayAfter(f *spec.Field, k int) string {
	layout, base := time.RFC3339Nano, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if f.Type == spec.TypeDate {
		layout = time.DateOnly
	}
	if f.Example != nil {
		if k == 0 {
			return *f.Example
		}
		if t, err := time.Parse(layout, *f.Example); err == nil {
			base = t
		}
	}
	return base.AddDate(0, 0, k).Format(layout)
}

// shift adds k to a number when the result stays within max. The sum is exact (a decimal's
// 19.99 + 21 is 40.99, not float64's 40.989999999999995, which its scale refuses) and keeps
// no more fraction digits than base has, written without trailing zeros.
func shift(f *spec.Field, base string, k int) string {
	x, ok := new(big.Rat).SetString(base)
	if !ok || k == 0 {
		return base
	}
	y := x.Add(x, big.NewRat(int64(k), 1))
	if f.Max != nil {
		if hi, ok := new(big.Rat).SetString(*f.Max); ok && y.Cmp(hi) > 0 {
			return base
		}
	}
	s := y.FloatString(fractionDigits(base))
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fractionDigits counts the digits after the point of numeric text: those of its plain
// decimal form when it is written with an exponent (1.5e-3 has 4).
func fractionDigits(s string) int {
	if strings.ContainsAny(s, "eE") {
		if x, err := strconv.ParseFloat(s, 64); err == nil {
			s = strconv.FormatFloat(x, 'f', -1, 64)
		}
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// plainText writes a value as a sentence or a filter reads it: a float without an exponent
// (%v writes 1250001.5 as 1.2500015e+06, which a stored-as check does not take for the
// number, and whose + a query string reads as a space).
func plainText(v any) string {
	if x, ok := v.(float64); ok {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// plainNumber turns numeric text into a YAML number.
func plainNumber(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil {
		return x
	}
	return s
}

// with returns a copy of b with field set to v (appended when absent); omit drops it.
func with(b yaml.MapSlice, field string, v any, omit bool) yaml.MapSlice {
	out := yaml.MapSlice{}
	found := false
	for _, item := range b {
		if item.Key == field {
			found = true
			if omit {
				continue
			}
			item.Value = v
		}
		out = append(out, item)
	}
	if !found && !omit {
		out = append(out, yaml.MapItem{Key: field, Value: v})
	}
	return out
}

// overlay is base with the fields of b (a PATCH body) set on it; nil when base is nil.
func overlay(base yaml.MapSlice, b any) yaml.MapSlice {
	patch, _ := b.(yaml.MapSlice)
	if base == nil || len(patch) == 0 {
		return base
	}
	out := yaml.MapSlice{}
	for _, item := range base {
		if !slices.ContainsFunc(patch, func(p yaml.MapItem) bool { return p.Key == item.Key }) {
			out = append(out, item)
		}
	}
	return append(out, patch...)
}

func get(b yaml.MapSlice, field string) any {
	for _, item := range b {
		if item.Key == field {
			return item.Value
		}
	}
	return nil
}

// marker picks the body field whose value tells this file's records apart, so a check can
// count them: a text value carrying {unique}, else a to-one relation to a record the file made.
func marker(r *spec.Resource, b yaml.MapSlice, except string) string {
	for _, f := range r.Fields {
		s, ok := get(b, f.Name).(string)
		if f.Name != except && ok && strings.Contains(s, "{unique}") && isText(f) {
			return f.Name
		}
	}
	for _, f := range r.Fields {
		if f.Name != except && f.Relation != nil && f.Relation.Kind == spec.RelToOne && get(b, f.Name) != nil {
			return f.Name
		}
	}
	return ""
}

func isText(f *spec.Field) bool {
	switch f.Type {
	case spec.TypeString, spec.TypeText, spec.TypeEmail, spec.TypeURL:
		return true
	}
	return false
}

// nonMatching is a string the pattern rejects, within the field's length bounds.
func nonMatching(f *spec.Field) (string, bool) {
	re, err := regexp.Compile(f.Pattern)
	if err != nil {
		return "", false
	}
	for _, s := range []string{"Not A Match!", "!", "-", "x y", "0", "a"} {
		n := len([]rune(s))
		if re.MatchString(s) || (f.MinLength != nil && n < *f.MinLength) || (f.MaxLength != nil && n > *f.MaxLength) {
			continue
		}
		return s, true
	}
	return "", false
}

// randomUnique reports whether a unique field's type cannot carry {unique} (numbers, dates):
// its derived values are random, so records of different files do not clash.
func randomUnique(f *spec.Field) bool {
	switch f.Type {
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal, spec.TypeDate, spec.TypeDatetime:
		return f.Relation == nil
	}
	return false
}
