// Package example makes valid example values for a spec's fields: bodies for exported
// collections and the derived test suite. Every value respects its field's constraints.
package example

import (
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Vars names placeholders the caller fills: Unique (text that makes unique values unique)
// and Ref (the id of a record of a resource).
type Vars struct {
	Unique string
	Ref    func(resource string) string
}

// Body returns a valid create body for r: required fields and fields with constraints,
// relations as references. Fields Kiln or roles guard (readonly, write roles, inverse) are left out.
func Body(r *spec.Resource, v Vars) map[string]any {
	out := map[string]any{}
	for _, f := range r.Fields {
		if f.Readonly || f.Hidden || f.IsInverse() || len(f.Write) > 0 {
			continue
		}
		out[f.Name] = Value(f, v)
	}
	return out
}

// Value is a valid value for one field.
func Value(f *spec.Field, v Vars) any {
	if f.Relation != nil {
		if f.IsToMany() {
			return []any{v.Ref(f.Relation.To)}
		}
		return v.Ref(f.Relation.To)
	}
	if f.Example != nil {
		return exampleOf(f)
	}
	switch f.Type {
	case spec.TypeInteger:
		return number(intIn(f))
	case spec.TypeNumber, spec.TypeDecimal:
		return number(numberIn(f))
	case spec.TypeBoolean:
		return true
	case spec.TypeEnum:
		return f.Values[0]
	case spec.TypeJSON:
		return map[string]any{"example": true}
	case spec.TypeDatetime:
		return "2026-01-01T12:00:00Z"
	case spec.TypeDate:
		return "2026-01-01"
	case spec.TypeUUID:
		return "0192f0a0-0000-7000-8000-000000000001"
	case spec.TypeEmail:
		return fit(f, "example-"+f.Name+v.Unique+"@example.com")
	case spec.TypeURL:
		return fit(f, "https://example.com/"+f.Name+v.Unique)
	}
	return text(f, v.Unique)
}

// exampleOf is the spec's own example, typed like a decoded JSON value.
func exampleOf(f *spec.Field) any {
	switch f.Type {
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
		return number(*f.Example)
	case spec.TypeBoolean:
		b, _ := strconv.ParseBool(*f.Example) // the spec takes what ParseBool takes: "1", "True", "t"
		return b
	}
	return *f.Example
}

// number is numeric text that encoders write as a JSON number, digits unchanged.
type number string

// MarshalJSON writes the number as is.
func (n number) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func intIn(f *spec.Field) string {
	n := int64(1)
	if f.Min != nil {
		if lo, err := strconv.ParseFloat(*f.Min, 64); err == nil && float64(n) < lo {
			n = int64(lo)
			if float64(n) < lo {
				n++
			}
		}
	}
	if f.Max != nil {
		if hi, err := strconv.ParseFloat(*f.Max, 64); err == nil && float64(n) > hi {
			n = int64(hi)
		}
	}
	return strconv.FormatInt(n, 10)
}

func numberIn(f *spec.Field) string {
	switch {
	case f.Min != nil && f.Max != nil:
		return *f.Min
	case f.Min != nil:
		return addOne(*f.Min)
	case f.Max != nil:
		return *f.Max
	}
	return "9.99"
}

// addOne keeps the value inside a min bound with some room: min + 1.
func addOne(min string) string {
	x, err := strconv.ParseFloat(min, 64)
	if err != nil {
		return min
	}
	return strconv.FormatFloat(x+1, 'f', -1, 64)
}

// text makes a string for f: from its pattern when it has one, within its length bounds.
func text(f *spec.Field, unique string) string {
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			return ""
		}
		base := fromPattern(f.Pattern)
		// The unique part may be a placeholder filled later with digits: test with digits.
		if probe := base + "1700000000000"; unique != "" && re.MatchString(probe) && withinMax(f, probe) {
			return base + unique
		}
		return base
	}
	return fitUnique(f, "Example "+strings.ReplaceAll(f.Name, "_", " ")+" ", unique)
}

// fitUnique is prefix+unique within the field's lengths, shortening the prefix rather than the
// unique part. A {unique} placeholder counts as the ten digits it becomes. When even the unique
// part is too long, the value is cut and no longer carries it (see CarriesUnique).
func fitUnique(f *spec.Field, prefix, unique string) string {
	if f.MaxLength != nil {
		room := *f.MaxLength - sentLen(unique)
		if room < 0 {
			return fit(f, prefix+unique)
		}
		if r := []rune(prefix); len(r) > room {
			prefix = string(r[:room])
		}
	}
	return fit(f, prefix+unique)
}

// sentLen is the length of s once each {unique} becomes ten digits.
func sentLen(s string) int {
	return len([]rune(s)) + 2*strings.Count(s, "{unique}")
}

func withinMax(f *spec.Field, s string) bool {
	return f.MaxLength == nil || len([]rune(s)) <= *f.MaxLength
}

// fit pads s to min_length and trims it to max_length ({unique} counted as sent).
func fit(f *spec.Field, s string) string {
	if f.MinLength != nil {
		for sentLen(s) < *f.MinLength {
			s += "x"
		}
	}
	if f.MaxLength != nil {
		r := []rune(s)
		for len(r) > 0 && sentLen(string(r)) > *f.MaxLength {
			r = r[:len(r)-1]
		}
		s = string(r)
	}
	return s
}

// fromPattern generates a short string the regular expression matches.
func fromPattern(pattern string) string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	var b strings.Builder
	gen(&b, re.Simplify(), first{})
	return b.String()
}

func gen(b *strings.Builder, re *syntax.Regexp, c chooser) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) > 0 {
			b.WriteRune(c.rune(re.Rune))
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a')
	case syntax.OpCapture:
		gen(b, re.Sub[0], c)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			gen(b, s, c)
		}
	case syntax.OpAlternate:
		gen(b, re.Sub[c.index(len(re.Sub))], c)
	case syntax.OpQuest:
		if c.index(2) == 1 {
			gen(b, re.Sub[0], c)
		}
	case syntax.OpStar:
		for i := 0; i < c.extra(); i++ {
			gen(b, re.Sub[0], c)
		}
	case syntax.OpPlus:
		for i := 0; i < 1+c.extra(); i++ {
			gen(b, re.Sub[0], c)
		}
	case syntax.OpRepeat:
		n := max(re.Min, 1)
		if re.Max > n || re.Max == -1 {
			n += c.extra()
			if re.Max != -1 {
				n = min(n, re.Max)
			}
		}
		for i := 0; i < n && i < 64; i++ {
			gen(b, re.Sub[0], c)
		}
	}
}

// pickRune prefers a lowercase letter or digit inside the class ranges.
func pickRune(ranges []rune) rune {
	for _, want := range []rune{'a', '0', 'A'} {
		for i := 0; i+1 < len(ranges); i += 2 {
			if ranges[i] <= want && want <= ranges[i+1] {
				return want
			}
		}
	}
	return ranges[0]
}

// CreationOrder puts each resource after the targets of its relations (cycles keep spec order).
func CreationOrder(s *spec.Spec) []*spec.Resource {
	placed := map[string]bool{}
	var out []*spec.Resource
	for len(out) < len(s.Resources) {
		progressed := false
		for _, r := range s.Resources {
			if !placed[r.Name] && targetsPlaced(r, placed) {
				out, placed[r.Name], progressed = append(out, r), true, true
			}
		}
		if !progressed {
			for _, r := range s.Resources {
				if !placed[r.Name] {
					out, placed[r.Name] = append(out, r), true
				}
			}
		}
	}
	return out
}

func targetsPlaced(r *spec.Resource, placed map[string]bool) bool {
	for _, f := range r.Fields {
		if f.Relation != nil && !f.IsInverse() && f.Relation.To != r.Name && !placed[f.Relation.To] {
			return false
		}
	}
	return true
}
