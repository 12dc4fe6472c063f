package spec

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/value"
)

// validateExample checks an example as a value the field accepts (checkValue).
func validateExample(f *Field, c *collector) {
	ex := *f.Example
	if f.Relation != nil || f.StoredAsJSON() {
		c.add(f.Pos, "field %s: example applies to scalar fields only", f.Name)
		return
	}
	if err := valueProblem(f, ex); err != "" {
		c.add(f.Pos, "field %s: example %q %s", f.Name, ex, err)
	}
}

// valueProblem says why s, a value a client sends (an example, a rule's violated_by), is not
// one the field accepts, or "": checkValue, except that "now" is a default's only.
func valueProblem(f *Field, s string) string {
	if f.Type == TypeDatetime && s == "now" {
		return "does not fit type " + string(f.Type)
	}
	return checkValue(f, s)
}

// checkValue says why s, a default or an example, is not a value the field accepts — its type,
// its format, its bounds — or "". A default that breaks the field's own constraints would
// store records that no request could write.
func checkValue(f *Field, s string) string {
	if err := checkType(f, s); err != "" {
		return err
	}
	if f.Type == TypeEmail {
		s = strings.ToLower(s) // as the API stores an address, before its bounds are checked
	}
	return checkBounds(f, s)
}

func checkType(f *Field, s string) string {
	var err error
	switch f.Type {
	case TypeInteger:
		_, err = strconv.ParseInt(s, 10, 64)
	case TypeNumber:
		_, err = strconv.ParseFloat(s, 64)
	case TypeDecimal:
		_, err = value.ParseDecimal(s, f.Precision, f.Scale)
	case TypeBoolean:
		_, err = strconv.ParseBool(s)
	case TypeEnum:
		if !slices.Contains(f.Values, s) {
			return "is not one of the enum values"
		}
	case TypeDatetime:
		if s != "now" {
			_, err = value.ParseInput(s)
		}
	case TypeDate:
		_, err = value.ParseDate(s)
	case TypeEmail, TypeURL, TypeUUID:
		return checkFormat(f.Type, s)
	}
	if errors.Is(err, value.ErrYearRange) {
		return "is outside the years 1 to 9999"
	}
	if err != nil {
		return "does not fit type " + string(f.Type)
	}
	return ""
}

// checkFormat is the write path's format check of emails, URLs and UUIDs (value.IsEmail, value.IsWebURL).
func checkFormat(t FieldType, s string) string {
	ok := true
	switch t {
	case TypeEmail:
		ok = value.IsEmail(s)
	case TypeURL:
		ok = value.IsWebURL(s)
	case TypeUUID:
		_, err := uuid.Parse(s)
		ok = err == nil
	}
	if !ok {
		return "is not a valid " + string(t)
	}
	return ""
}

// checkBounds says how s breaks the field's min/max, min_length/max_length or pattern.
func checkBounds(f *Field, s string) string {
	x, err := strconv.ParseFloat(s, 64)
	numeric := f.Type == TypeInteger || f.Type == TypeNumber || f.Type == TypeDecimal
	if numeric && err == nil && ((f.Min != nil && x < atof(*f.Min)) || (f.Max != nil && x > atof(*f.Max))) {
		return "is outside min/max"
	}
	if !isTextual(f.Type) {
		return ""
	}
	n := utf8.RuneCountInString(s)
	if (f.MinLength != nil && n < *f.MinLength) || (f.MaxLength != nil && n > *f.MaxLength) {
		return "is outside min_length/max_length"
	}
	if f.Pattern != "" {
		if re, err := regexp.Compile(f.Pattern); err == nil && !re.MatchString(s) {
			return "does not match the pattern " + f.Pattern
		}
	}
	return ""
}

func atof(s string) float64 {
	x, _ := strconv.ParseFloat(s, 64)
	return x
}
