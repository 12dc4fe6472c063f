package logic

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// errNoValue means an expression gave no value for a field (a missing attribute).
var errNoValue = errors.New("no value")

// eval computes the value for a comparison with field name of target (nil target: as is).
func (v *outerValue) eval(st *evalState, target *spec.Resource, name string) (any, error) {
	out, _, err := (*v.prog).ContextEval(st.ctx, st.vars.activation(st))
	if err != nil {
		return nil, st.errOr(err)
	}
	if target == nil {
		return out.Value(), nil
	}
	x, err := StoreValue(columnSpec(target, name), out)
	if err != nil { // a value no record's field can hold: string(now) for a date
		return nil, &EvalError{Expr: v.src, Err: err}
	}
	return x, nil
}

func (v *outerValue) evalList(st *evalState, target *spec.Resource, name string) ([]any, error) {
	out, _, err := (*v.prog).ContextEval(st.ctx, st.vars.activation(st))
	if err != nil {
		return nil, st.errOr(err)
	}
	lister, ok := out.(traits.Lister)
	if !ok {
		return nil, fmt.Errorf("in needs a list")
	}
	var list []any
	it := lister.Iterator()
	for it.HasNext() == types.True {
		x, err := StoreValue(columnSpec(target, name), it.Next())
		if err != nil {
			return nil, &EvalError{Expr: v.src, Err: err}
		}
		list = append(list, x)
	}
	return list, nil
}

// errOr prefers a reader failure (an outage) to the evaluation error it caused.
func (st *evalState) errOr(err error) error {
	if st.err != nil {
		return st.err
	}
	return err
}

// columnSpec describes a field, or a system field, for conversions.
func columnSpec(r *spec.Resource, name string) *spec.Field {
	switch name {
	case "id":
		return &spec.Field{Name: name, Type: spec.TypeUUID}
	case "created_at", "updated_at":
		return &spec.Field{Name: name, Type: spec.TypeDatetime}
	}
	return r.Field(name)
}

// ValueError is a text an expression computed that its field cannot hold — none of an enum's
// values, not an id, not a date — with the constraint's code, as a body's value would be refused.
// Resource is the written resource's, where the caller knows it.
type ValueError struct {
	Resource, Field, Code, Message string
}

func (e *ValueError) Error() string { return e.Field + ": " + e.Message }

// StoreValue converts a CEL value to the Go value the store keeps for field f.
func StoreValue(f *spec.Field, v ref.Val) (any, error) {
	if v == nil || v == types.NullValue {
		return nil, nil
	}
	if types.IsError(v) {
		return nil, fmt.Errorf("%v", v)
	}
	switch f.Type {
	case spec.TypeInteger:
		return intValue(v)
	case spec.TypeNumber:
		if r, ok := asRat(v); ok {
			x, _ := r.Float64()
			return x, nil
		}
	case spec.TypeDecimal:
		if r, ok := asRat(v); ok {
			d, ok := Decimal{r: r}.Round(f.Scale)
			if !ok {
				return nil, fmt.Errorf("%s: the decimal does not fit", f.Name)
			}
			return d, nil
		}
	case spec.TypeBoolean:
		if b, ok := v.(types.Bool); ok {
			return bool(b), nil
		}
	case spec.TypeDatetime:
		if ts, ok := v.(types.Timestamp); ok {
			t := ts.Time.UTC().Truncate(time.Microsecond)
			if y := t.Year(); y < value.MinYear || y > value.MaxYear {
				return nil, fmt.Errorf("%s: %s", f.Name, value.ErrYearRange)
			}
			return t, nil
		}
	case spec.TypeJSON, spec.TypeFile:
		return v.Value(), nil
	default:
		return stringValue(f, v)
	}
	if d, ok := v.(types.Double); ok && (math.IsInf(float64(d), 0) || math.IsNaN(float64(d))) {
		return nil, fmt.Errorf("%s: the result is not a finite number (a division by zero?)", f.Name)
	}
	return nil, fmt.Errorf("%s: a %s value cannot be a %s", f.Name, v.Type().TypeName(), f.Type)
}

func intValue(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Int:
		return int64(x), nil
	case Decimal:
		if x.r.IsInt() && x.r.Num().IsInt64() {
			return x.r.Num().Int64(), nil
		}
	}
	return nil, fmt.Errorf("a %s value is not a whole number", v.Type().TypeName())
}

func stringValue(f *spec.Field, v ref.Val) (any, error) {
	if f.IsToMany() {
		lister, ok := v.(traits.Lister)
		if !ok {
			return nil, fmt.Errorf("%s needs a list of ids", f.Name)
		}
		var ids []string
		for it := lister.Iterator(); it.HasNext() == types.True; {
			ids = append(ids, fmt.Sprint(it.Next().Value()))
		}
		return ids, nil
	}
	s, ok := v.(types.String)
	if !ok {
		return nil, fmt.Errorf("%s: a %s value is not text", f.Name, v.Type().TypeName())
	}
	text := string(s)
	if code := value.TextProblem(text); code != "" {
		return nil, fmt.Errorf("%s: %s", f.Name, value.TextMessage(code))
	}
	switch {
	case f.Type == spec.TypeUUID || f.Relation != nil:
		u, err := uuid.Parse(text)
		if err != nil {
			return nil, &ValueError{Field: f.Name, Code: "format", Message: fmt.Sprintf("%q is not an id", text)}
		}
		return u.String(), nil
	case f.Type == spec.TypeEnum && !slices.Contains(f.Values, text):
		return nil, &ValueError{Field: f.Name, Code: "enum", Message: fmt.Sprintf("%q is not one of its values", text)}
	case f.Type == spec.TypeDate:
		if _, err := value.ParseDate(text); err != nil {
			return nil, &ValueError{Field: f.Name, Code: "format", Message: fmt.Sprintf("%q is not a date (YYYY-MM-DD, years 1 to 9999)", text)}
		}
	}
	return text, nil
}
