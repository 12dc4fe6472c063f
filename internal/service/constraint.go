package service

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// rules are a field's compiled constraints, built once at start.
type rules struct {
	pattern    *regexp.Regexp
	minF, maxF *float64
	minD, maxD *value.Decimal
}

func compileRules(f *spec.Field) (rules, error) {
	var r rules
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			return r, fmt.Errorf("field %s pattern: %w", f.Name, err)
		}
		r.pattern = re
	}
	bound := func(s *string, isMin bool) (*float64, *value.Decimal, error) {
		if s == nil {
			return nil, nil, nil
		}
		fv, err := strconv.ParseFloat(*s, 64)
		if err != nil {
			return nil, nil, err
		}
		if f.Type != spec.TypeDecimal {
			return &fv, nil, nil
		}
		d, exact, err := value.Rescale(*s, f.Scale)
		// A bound finer than the field's scale was cut toward zero: values at the scale meet
		// a min from the next unit above it and a max from the unit below it.
		if neg := strings.HasPrefix(*s, "-"); !exact && isMin && !neg {
			d.Units++
		} else if !exact && !isMin && neg {
			d.Units--
		}
		return &fv, &d, err
	}
	var err error
	if r.minF, r.minD, err = bound(f.Min, true); err != nil {
		return r, fmt.Errorf("field %s min: %w", f.Name, err)
	}
	if r.maxF, r.maxD, err = bound(f.Max, false); err != nil {
		return r, fmt.Errorf("field %s max: %w", f.Name, err)
	}
	return r, nil
}

// check returns a constraint code and message for v (never nil here), or "".
func (r rules) check(f *spec.Field, v any) (string, string) {
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if f.MinLength != nil && n < *f.MinLength {
			if *f.MinLength == 1 {
				return "min_length", "must not be empty"
			}
			return "min_length", fmt.Sprintf("must be at least %d characters", *f.MinLength)
		}
		if f.MaxLength != nil && n > *f.MaxLength {
			return "max_length", fmt.Sprintf("must be at most %d characters", *f.MaxLength)
		}
		if r.pattern != nil && !r.pattern.MatchString(x) {
			return "pattern", "must match " + f.Pattern
		}
	case value.Decimal:
		// A sent value's digits were counted as it was read; one Kiln computed (a default, a
		// computed field, an effect's set:, a rollup) is counted here, before the database
		// sees it (PostgreSQL refused it as a numeric overflow naming no field, SQLite stored it).
		if !x.Fits(f.Precision, f.Scale) {
			return "precision", "must have at most " + digits(f.Precision-f.Scale) + " before the decimal point"
		}
		if r.minD != nil && x.Cmp(*r.minD) < 0 {
			return "min", "must be >= " + *f.Min
		}
		if r.maxD != nil && x.Cmp(*r.maxD) > 0 {
			return "max", "must be <= " + *f.Max
		}
	case int64:
		return r.checkFloat(f, float64(x))
	case float64:
		return r.checkFloat(f, x)
	}
	return "", ""
}

func (r rules) checkFloat(f *spec.Field, x float64) (string, string) {
	if r.minF != nil && x < *r.minF {
		return "min", "must be >= " + *f.Min
	}
	if r.maxF != nil && x > *r.maxF {
		return "max", "must be <= " + *f.Max
	}
	return "", ""
}
