package expr

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// kind is how a field looks to CEL and which Go type its constants become.
type kind int

const (
	kindString kind = iota
	kindInt
	kindFloat
	kindDecimal
	kindBool
	kindTime
	kindUUID
	// kindLinks is an N:M relation (to-many, or the inverse of one): a list of ids that
	// filters test membership of with "<id>" in field.
	kindLinks
)

// celType is nullable (a wrapper type) so "field == null" type-checks; user datetimes are dyn
// for the same reason, and the translator still insists on timestamp("...") constants.
func (k kind) celType(system bool) *cel.Type {
	switch k {
	case kindInt:
		return cel.NullableType(cel.IntType)
	case kindFloat, kindDecimal:
		return cel.NullableType(cel.DoubleType)
	case kindBool:
		return cel.NullableType(cel.BoolType)
	case kindLinks:
		return cel.ListType(cel.StringType)
	case kindTime:
		if system {
			return cel.TimestampType
		}
		return cel.DynType
	}
	if system {
		return cel.StringType
	}
	return cel.NullableType(cel.StringType)
}

func kindOf(f *spec.Field) (kind, bool) {
	switch f.Type {
	case spec.TypeString, spec.TypeText, spec.TypeEmail, spec.TypeURL, spec.TypeEnum, spec.TypeDate:
		return kindString, true
	case spec.TypeUUID:
		return kindUUID, true
	case spec.TypeInteger:
		return kindInt, true
	case spec.TypeNumber:
		return kindFloat, true
	case spec.TypeDecimal:
		return kindDecimal, true
	case spec.TypeBoolean:
		return kindBool, true
	case spec.TypeDatetime:
		return kindTime, true
	case spec.TypeRelation:
		if f.IsToMany() || (f.IsInverse() && f.Relation.Many) {
			return kindLinks, true
		}
		return kindUUID, f.Relation.Kind == spec.RelToOne
	}
	return 0, false
}

// constant turns a literal (or timestamp("...") call) into the Go value the store expects
// for the field name.
func (t translator) constant(name string, e celast.Expr) (any, error) {
	k := t.f.kinds[name]
	if k == kindTime {
		v, err := timeConstant(name, e)
		if err != nil {
			at := e // the call's position is its parenthesis: a bad timestamp's is its text's
			if e.Kind() == celast.CallKind && len(e.AsCall().Args()) == 1 {
				at = e.AsCall().Args()[0]
			}
			return nil, t.errAt(at, "%s", err)
		}
		return v, nil
	}
	if k == kindLinks {
		return nil, errf(`%s is a list of ids: test membership with "<id>" in %s`, name, name)
	}
	if e.Kind() != celast.LiteralKind {
		return nil, t.errAt(e, "%s must be compared with a constant", name)
	}
	f := t.f.fields[name]
	lit := e.AsLiteral()
	if orig, ok := t.ints[e.ID()]; ok {
		lit = orig
	}
	v, err := typedConstant(k, f, name, lit.Value())
	if err != nil {
		return nil, t.errAt(e, "%s", err)
	}
	if s, ok := v.(string); ok && f != nil && f.Type == spec.TypeDate {
		if _, derr := value.ParseDate(s); derr != nil {
			return nil, t.errAt(e, "%s must be compared with a date like \"2026-01-31\" (years 1 to 9999)", name)
		}
	}
	// A value outside an enum's is refused as ?status=bogus is: no record can hold it, so the
	// filter is a client's mistake (a typo, a state of an older spec), not an empty answer.
	if s, ok := v.(string); ok && f != nil && f.Type == spec.TypeEnum && !slices.Contains(f.Values, s) {
		return nil, t.errAt(e, "%s must be compared with one of: %s", name, strings.Join(f.Values, ", "))
	}
	return v, nil
}

// typedConstant converts a constant (a CEL literal's value, or a principal's attribute) to
// the Go type the store uses for a field of kind k.
func typedConstant(k kind, f *spec.Field, name string, raw any) (any, error) {
	switch k {
	case kindInt:
		return intConstant(name, raw)
	case kindFloat:
		return floatConstant(name, raw)
	case kindDecimal:
		return decimalConstant(f, name, raw)
	case kindTime:
		return nil, errf("%s must be compared with a constant timestamp(\"2026-01-31T12:00:00Z\") (RFC 3339)", name)
	}
	switch v := raw.(type) {
	case string:
		if code := value.TextProblem(v); code != "" {
			return nil, errf("%s: %s", name, value.TextMessage(code))
		}
		if k == kindString {
			return v, nil
		}
		if k == kindUUID {
			u, err := uuid.Parse(v)
			if err != nil || len(v) != 36 {
				return nil, errf("%s must be compared with a UUID", name)
			}
			return u.String(), nil
		}
	case bool:
		if k == kindBool {
			return v, nil
		}
	}
	return nil, errf("%s cannot be compared with %v", name, raw)
}

func intConstant(name string, raw any) (any, error) {
	switch v := raw.(type) {
	case int64:
		return v, nil
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), nil
		}
		return nil, errf("%s is a whole number: compare it with one", name)
	}
	return nil, errf("%s must be compared with a number", name)
}

func floatConstant(name string, raw any) (any, error) {
	switch v := raw.(type) {
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case float64:
		return v, nil
	}
	return nil, errf("%s must be compared with a number", name)
}

func decimalConstant(f *spec.Field, name string, raw any) (any, error) {
	var text string
	switch v := raw.(type) {
	case int64:
		text = strconv.FormatInt(v, 10)
	case uint64:
		text = strconv.FormatUint(v, 10)
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, errf("%s must be compared with a finite number", name)
		}
		text = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return nil, errf("%s must be compared with a number", name)
	}
	scale := f.Scale
	d, exact, err := value.Rescale(text, scale)
	switch {
	case err != nil:
		return nil, errf("%s takes numbers of at most %d digits in all", name, value.MaxPrecision)
	case !exact:
		return nil, errf("%s takes at most %d digits after the point: %s has more", name, scale, text)
	}
	return d, nil
}

func timeConstant(name string, e celast.Expr) (any, error) {
	if e.Kind() == celast.CallKind {
		c := e.AsCall()
		if c.FunctionName() == "timestamp" && len(c.Args()) == 1 && c.Args()[0].Kind() == celast.LiteralKind {
			if s, ok := c.Args()[0].AsLiteral().Value().(string); ok {
				tm, err := value.ParseInput(s)
				if errors.Is(err, value.ErrYearRange) {
					return nil, errf("timestamp(%q) is outside the years 1 to 9999", s)
				}
				if err != nil {
					return nil, errf("timestamp(%q) is not RFC 3339", s)
				}
				return tm, nil
			}
		}
	}
	return time.Time{}, errf("%s must be compared with a constant timestamp(\"2026-01-31T12:00:00Z\") (RFC 3339)", name)
}
