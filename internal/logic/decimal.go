package logic

import (
	"fmt"
	"math/big"
	"reflect"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/kiln-dev/kiln/internal/value"
)

// DecimalType is CEL's view of a decimal field: exact, with its own arithmetic, so
// `quantity * unit_price` and sums of money are never floats.
var DecimalType = types.NewOpaqueType("kiln.decimal")

// Decimal is an exact rational value in CEL expressions; stored back into a field it is
// rounded half away from zero to the field's scale.
type Decimal struct{ r *big.Rat }

var _ ref.Val = Decimal{}

func decimalOf(d value.Decimal) Decimal {
	return Decimal{r: new(big.Rat).SetFrac(big.NewInt(d.Units), big.NewInt(value.Pow10(d.Scale)))}
}

// ConvertToNative supports value.Decimal (at scale 18 would overflow: callers use ToDecimal).
func (d Decimal) ConvertToNative(t reflect.Type) (any, error) {
	if t == reflect.TypeOf(d) {
		return d, nil
	}
	return nil, fmt.Errorf("decimal cannot become %v", t)
}

// ConvertToType turns a decimal into a double, an int (toward zero) or a string.
func (d Decimal) ConvertToType(t ref.Type) ref.Val {
	switch t.TypeName() {
	case DecimalType.TypeName():
		return d
	}
	switch t {
	case types.DoubleType:
		f, _ := d.r.Float64()
		return types.Double(f)
	case types.IntType:
		return types.Int(new(big.Int).Quo(d.r.Num(), d.r.Denom()).Int64())
	case types.StringType:
		return types.String(d.text())
	}
	return types.NewErr("type conversion error from decimal to %v", t)
}

// Equal compares exactly with decimals, ints and doubles.
func (d Decimal) Equal(other ref.Val) ref.Val {
	o, ok := asRat(other)
	if !ok {
		return types.False
	}
	return types.Bool(d.r.Cmp(o) == 0)
}

// decimalValueType is the runtime type of decimal values: the traits CEL's operators dispatch
// on (the checker knows decimals as DecimalType).
var decimalValueType = types.NewTypeValue(DecimalType.TypeName(), traits.AdderType, traits.SubtractorType,
	traits.MultiplierType, traits.DividerType, traits.ComparerType, traits.NegatorType)

// Type is the decimal's runtime type.
func (d Decimal) Type() ref.Type { return decimalValueType }

// Value is the decimal itself.
func (d Decimal) Value() any { return d }

// text is the decimal exactly, without trailing zeros after the point (27.4, 10, 0.005); a
// quotient that does not end (1/3) is cut at 18 places.
func (d Decimal) text() string {
	s := d.r.FloatString(18)
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Round returns the decimal at scale, halves away from zero, or false when it does not fit
// an int64 of minor units.
func (d Decimal) Round(scale int) (value.Decimal, bool) {
	scaled := new(big.Rat).Mul(d.r, new(big.Rat).SetInt64(value.Pow10(scale)))
	q, rem := new(big.Int).QuoRem(scaled.Num(), scaled.Denom(), new(big.Int))
	if twice := new(big.Int).Mul(new(big.Int).Abs(rem), big.NewInt(2)); twice.Cmp(scaled.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(scaled.Num().Sign())))
	}
	if !q.IsInt64() {
		return value.Decimal{}, false
	}
	return value.FromUnits(q.Int64(), scale), true
}

// asRat reads a decimal, int, uint or double CEL value exactly.
func asRat(v ref.Val) (*big.Rat, bool) {
	switch x := v.(type) {
	case Decimal:
		return x.r, true
	case types.Int:
		return new(big.Rat).SetInt64(int64(x)), true
	case types.Uint:
		return new(big.Rat).SetUint64(uint64(x)), true
	case types.Double:
		r := new(big.Rat)
		if r.SetFloat64(float64(x)) == nil {
			return nil, false
		}
		return r, true
	}
	return nil, false
}

// The traits CEL's operators dispatch on: decimal on the left, a decimal, int or double on
// the right (a number on the left is widened to decimal when the expression is compiled).

// Add implements traits.Adder.
func (d Decimal) Add(o ref.Val) ref.Val { return d.arith(o, (*big.Rat).Add) }

// Subtract implements traits.Subtractor.
func (d Decimal) Subtract(o ref.Val) ref.Val { return d.arith(o, (*big.Rat).Sub) }

// Multiply implements traits.Multiplier.
func (d Decimal) Multiply(o ref.Val) ref.Val { return d.arith(o, (*big.Rat).Mul) }

// Divide implements traits.Divider.
func (d Decimal) Divide(o ref.Val) ref.Val {
	if y, ok := asRat(o); ok && y.Sign() == 0 {
		return types.NewErr("division by zero")
	}
	return d.arith(o, (*big.Rat).Quo)
}

// Negate implements traits.Negater.
func (d Decimal) Negate() ref.Val { return Decimal{r: new(big.Rat).Neg(d.r)} }

// Compare implements traits.Comparer.
func (d Decimal) Compare(o ref.Val) ref.Val {
	y, ok := asRat(o)
	if !ok {
		return types.MaybeNoSuchOverloadErr(o)
	}
	return types.Int(d.r.Cmp(y))
}

func (d Decimal) arith(o ref.Val, op func(z, a, b *big.Rat) *big.Rat) ref.Val {
	y, ok := asRat(o)
	if !ok {
		return types.MaybeNoSuchOverloadErr(o)
	}
	return Decimal{r: op(new(big.Rat), d.r, y)}
}

// decimalOptions declares decimal arithmetic and ordering with decimals, ints and doubles on
// either side (the checker's view; the operators dispatch on Decimal's traits), negation, and
// decimal("12.50") / decimal(int) conversions, and string(decimal) (its exact text). == and != are CEL's own (same types on both
// sides, compared exactly): write record.total == decimal(0).
func decimalOptions() []cel.EnvOption {
	D := DecimalType
	pairs := [][2]*cel.Type{{D, D}, {D, cel.IntType}, {cel.IntType, D}, {D, cel.DoubleType}, {cel.DoubleType, D}}
	decl := func(fn, name string, result *cel.Type) cel.EnvOption {
		var ovs []cel.FunctionOpt
		for _, p := range pairs {
			ovs = append(ovs, cel.Overload(fmt.Sprintf("%s_%s_%s", name, typeName(p[0]), typeName(p[1])), []*cel.Type{p[0], p[1]}, result))
		}
		return cel.Function(fn, ovs...)
	}
	return []cel.EnvOption{
		decl(operators.Add, "kiln_add", D), decl(operators.Subtract, "kiln_sub", D),
		decl(operators.Multiply, "kiln_mul", D), decl(operators.Divide, "kiln_div", D),
		decl(operators.Less, "kiln_lt", cel.BoolType), decl(operators.LessEquals, "kiln_le", cel.BoolType),
		decl(operators.Greater, "kiln_gt", cel.BoolType), decl(operators.GreaterEquals, "kiln_ge", cel.BoolType),
		cel.Function(operators.Negate, cel.Overload("kiln_neg_decimal", []*cel.Type{D}, D)),
		cel.Function("decimal",
			cel.Overload("kiln_decimal_string", []*cel.Type{cel.StringType}, D, cel.UnaryBinding(parseDecimal)),
			cel.Overload("kiln_decimal_int", []*cel.Type{cel.IntType}, D, cel.UnaryBinding(toDecimal)),
			cel.Overload("kiln_decimal_double", []*cel.Type{cel.DoubleType}, D, cel.UnaryBinding(toDecimal))),
		cel.Function("double", cel.Overload("kiln_double_decimal", []*cel.Type{D}, cel.DoubleType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return v.ConvertToType(types.DoubleType) }))),
		cel.Function("int", cel.Overload("kiln_int_decimal", []*cel.Type{D}, cel.IntType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return v.ConvertToType(types.IntType) }))),
		cel.Function("string", cel.Overload("kiln_string_decimal", []*cel.Type{D}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return v.ConvertToType(types.StringType) }))),
	}
}

func parseDecimal(v ref.Val) ref.Val {
	r, ok := new(big.Rat).SetString(string(v.(types.String)))
	if !ok {
		return types.NewErr("decimal: %q is not a decimal number", v.Value())
	}
	return Decimal{r: r}
}

func toDecimal(v ref.Val) ref.Val {
	r, ok := asRat(v)
	if !ok {
		return types.NewErr("decimal: not a number")
	}
	return Decimal{r: r}
}
