package derive

import (
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// violation is one invalid value for one field and the error code it must cause ("" when
// more than one code could fire first).
type violation struct {
	name  string // what is wrong, for the case name: price_below_min
	field string
	code  string
	value any
	omit  bool
}

// violations lists one bad value per constraint of f. partial is true for PATCH, where a
// required field is broken by sending null rather than leaving it out.
func violations(f *spec.Field, partial bool) []violation {
	var out []violation
	add := func(what, code string, v any) {
		out = append(out, violation{name: f.Name + "_" + what, field: f.Name, code: code, value: v})
	}
	if f.Required && !f.HasDefault && f.DefaultExpr.Text == "" { // a default_expr fills it in
		if partial {
			add("null", "required", nil)
		} else {
			out = append(out, violation{name: f.Name + "_missing", field: f.Name, code: "required", omit: true})
		}
	}
	if v, code, ok := wrongType(f); ok {
		add("wrong_type", code, v)
	}
	lengthViolations(f, add)
	numberViolations(f, add)
	if f.Type == spec.TypeEnum {
		add("not_in_enum", "enum", "not-one-of-the-values")
	}
	if f.Relation != nil && !f.IsInverse() {
		if f.IsToMany() {
			add("unknown_reference", "not_found", []any{unknownID})
		} else {
			add("unknown_reference", "not_found", unknownID)
		}
	}
	return out
}

// wrongType is a JSON value of another type, or text the field's format rejects.
func wrongType(f *spec.Field) (any, string, bool) {
	switch {
	case f.IsToMany():
		return "not-a-list", "type", true
	case f.Relation != nil:
		return 42, "type", true
	}
	switch f.Type {
	case spec.TypeString, spec.TypeText:
		return 12345, "type", true
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
		return "not a number", "type", true
	case spec.TypeBoolean:
		return "yes", "type", true
	case spec.TypeEnum:
		return 42, "", true
	case spec.TypeEmail:
		return "not-an-email", "format", true
	case spec.TypeURL:
		return "not a url", "format", true
	case spec.TypeUUID, spec.TypeDatetime, spec.TypeDate:
		return "not-a-" + string(f.Type), "format", true
	}
	return nil, "", false
}

func lengthViolations(f *spec.Field, add func(what, code string, v any)) {
	if f.MinLength != nil && *f.MinLength > 0 {
		code := "min_length"
		if f.Pattern != "" || f.Type == spec.TypeEmail || f.Type == spec.TypeURL {
			code = ""
		}
		add("too_short", code, strings.Repeat("a", *f.MinLength-1))
	}
	if f.MaxLength != nil {
		n := *f.MaxLength + 1
		v, code := strings.Repeat("a", n), "max_length"
		switch {
		case f.Type == spec.TypeEmail:
			v = strings.Repeat("a", max(n-len("@example.com"), 1)) + "@example.com"
		case f.Type == spec.TypeURL:
			v = "https://example.com/" + strings.Repeat("a", max(n-len("https://example.com/"), 1))
		case f.Pattern != "":
			code = ""
		}
		add("too_long", code, v)
	}
	if f.Pattern != "" {
		if v, ok := nonMatching(f); ok {
			add("not_matching_pattern", "pattern", v)
		}
	}
}

func numberViolations(f *spec.Field, add func(what, code string, v any)) {
	if f.Type != spec.TypeInteger && f.Type != spec.TypeNumber && f.Type != spec.TypeDecimal {
		return
	}
	if f.Min != nil {
		if x, err := strconv.ParseFloat(*f.Min, 64); err == nil {
			add("below_min", "min", plainNumber(strconv.FormatFloat(x-1, 'f', -1, 64)))
		}
	}
	if f.Max != nil {
		if x, err := strconv.ParseFloat(*f.Max, 64); err == nil {
			add("above_max", "max", plainNumber(strconv.FormatFloat(x+1, 'f', -1, 64)))
		}
	}
	if f.Type == spec.TypeDecimal && f.Scale >= 0 {
		code := "scale"
		if f.Max != nil || f.Min != nil && *f.Min != "0" {
			code = ""
		}
		add("too_many_decimals", code, plainNumber("1."+strings.Repeat("0", f.Scale)+"1"))
	}
	if f.Type == spec.TypeDecimal && f.Precision > f.Scale && f.Max == nil {
		add("too_many_digits", "precision", plainNumber("1"+strings.Repeat("0", f.Precision-f.Scale)))
	}
	if f.Type == spec.TypeInteger {
		add("fraction", "type", 1.5)
	}
}
