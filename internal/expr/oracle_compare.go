package expr

// The oracle's comparisons: ==, <, in and matches over record values and literals, with
// numbers compared exactly and ids in their canonical form, as the SQL translation compares.

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/value"
)

// nullLit is the literal null, told apart from a field without a value (nil).
type nullLit struct{}

func (o oracle) compare(fn string, args []celast.Expr) (any, error) {
	if len(args) != 2 {
		return nil, errf("the oracle does not evaluate %s", fn)
	}
	l, err := o.value(args[0])
	if err != nil {
		return nil, err
	}
	r, err := o.value(args[1])
	if err != nil {
		return nil, err
	}
	if o.isID(args[0]) {
		r = canonicalID(r)
	}
	if o.isID(args[1]) {
		l = canonicalID(l)
	}
	_, lNull := l.(nullLit)
	_, rNull := r.(nullLit)
	switch {
	case lNull || rNull: // x == null, x != null
		other := l
		if lNull {
			other = r
		}
		if isUnknown(other) {
			return unknown{}, nil
		}
		_, otherNull := other.(nullLit)
		missing := other == nil || otherNull
		switch fn {
		case operators.Equals:
			return missing, nil
		case operators.NotEquals:
			return !missing, nil
		}
		return false, nil
	case l == nil || r == nil:
		return false, nil // any other comparison with a missing value, whatever the record
	case isUnknown(l, r):
		return unknown{}, nil
	case fn == operators.Equals:
		return same(l, r), nil
	case fn == operators.NotEquals:
		return !same(l, r), nil
	}
	n, ok := rank(l, r)
	if !ok {
		return false, nil
	}
	switch fn {
	case operators.Less:
		return n < 0, nil
	case operators.LessEquals:
		return n <= 0, nil
	case operators.Greater:
		return n > 0, nil
	case operators.GreaterEquals:
		return n >= 0, nil
	}
	return nil, errf("the oracle does not evaluate %s", fn)
}

func (o oracle) in(el, list celast.Expr) (any, error) {
	v, err := o.value(el)
	if err != nil || v == nil {
		return false, err
	}
	l, err := o.value(list)
	if isUnknown(v, l) {
		return unknown{}, err
	}
	items, _ := l.([]any)
	if ids, ok := l.([]string); ok { // an N:M relation's ids, as the store reads them
		v = canonicalID(v)
		items = make([]any, len(ids))
		for i, id := range ids {
			items[i] = id
		}
	}
	for _, x := range items {
		if same(v, x) {
			return true, err
		}
	}
	return false, err
}

func (o oracle) match(fn string, c celast.CallExpr) (any, error) {
	t, err := o.value(c.Target())
	if err != nil {
		return nil, err
	}
	a, err := o.value(c.Args()[0])
	if isUnknown(t, a) {
		return unknown{}, err
	}
	s, ok1 := t.(string)
	sub, ok2 := a.(string)
	if !ok1 || !ok2 {
		return false, err
	}
	switch fn {
	case "startsWith":
		return strings.HasPrefix(s, sub), err
	case "endsWith":
		return strings.HasSuffix(s, sub), err
	}
	return strings.Contains(s, sub), err
}

// isID reports whether e names a filter's UUID field (id, a to-one relation).
func (o oracle) isID(e celast.Expr) bool {
	return e.Kind() == celast.IdentKind && o.kinds[strings.TrimPrefix(e.AsIdent(), ".")] == kindUUID
}

// canonicalID is v as the translation compares it with a UUID field (typedConstant): a UUID
// written in upper case is the same id in lower case; any other value as it is.
func canonicalID(v any) any {
	if s, ok := v.(string); ok && len(s) == 36 {
		if u, err := uuid.Parse(s); err == nil {
			return u.String()
		}
	}
	return v
}

func same(a, b any) bool {
	n, ok := rank(a, b)
	return ok && n == 0
}

// rank orders two values of one kind: numbers by value whatever their type, texts, times,
// booleans (false first). ok is false for values that do not compare.
func rank(a, b any) (int, bool) {
	if x, ok := exact(a); ok {
		if y, ok := exact(b); ok {
			return x.Cmp(y), true // a decimal and an integer, as the store compares them
		}
	}
	if x, ok := number(a); ok {
		y, ok := number(b)
		return cmp3(x < y, x > y), ok
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	case time.Time:
		y, ok := b.(time.Time)
		return x.Compare(y), ok
	case bool:
		y, ok := b.(bool)
		return cmp3(!x && y, x && !y), ok
	}
	return 0, false
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

// exact is v as a rational when it is a decimal or an integer, so two of them compare exactly
// past 2^53 (price == 9007199254740993); a double has no exact value to compare.
func exact(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case int64:
		return new(big.Rat).SetInt64(x), true
	case uint64:
		return new(big.Rat).SetUint64(x), true
	case value.Decimal:
		return new(big.Rat).SetFrac(big.NewInt(x.Units), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Scale)), nil)), true
	}
	return nil, false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case value.Decimal:
		f, err := strconv.ParseFloat(x.String(), 64)
		return f, err == nil
	}
	return 0, false
}
