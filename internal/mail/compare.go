package mail

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
)

// A template sees a record's numbers as the API writes them, exactly: json.Number, which Go's
// own eq, lt and the rest compare as text, or refuse beside an int ("incompatible types for
// comparison"), so {{if gt .new.total 100}} failed every write it fired on. Kiln's
// comparisons take the place of Go's: numbers (json.Number and Go's numeric kinds) compare by
// value, exactly; anything else as Go's do — strings, booleans; nil (a null field) is equal
// only to nil and has no order.

// numberOf is v's exact value when v is a number.
func numberOf(v any) (*big.Rat, bool) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		text = fmt.Sprint(x)
	case float32, float64:
		r, ok := new(big.Rat).SetString(fmt.Sprint(x))
		return r, ok
	default:
		return nil, false
	}
	return new(big.Rat).SetString(text)
}

// compare orders a and b: -1, 0 or 1; ordered is false for values only equality applies to.
func compare(a, b any) (cmp int, ordered bool, err error) {
	if x, ok := numberOf(a); ok {
		if y, ok := numberOf(b); ok {
			return x.Cmp(y), true, nil
		}
	}
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	switch {
	case isNil(a) || isNil(b):
		if isNil(a) && isNil(b) {
			return 0, false, nil
		}
		return 1, false, nil
	case ra.Kind() == reflect.String && rb.Kind() == reflect.String:
		x, y := ra.String(), rb.String()
		switch {
		case x < y:
			return -1, true, nil
		case x > y:
			return 1, true, nil
		}
		return 0, true, nil
	case ra.Kind() == reflect.Bool && rb.Kind() == reflect.Bool:
		if ra.Bool() == rb.Bool() {
			return 0, false, nil
		}
		return 1, false, nil
	}
	return 0, false, fmt.Errorf("incompatible types for comparison: %v (%T) and %v (%T)", a, a, b, b)
}

// eq is Go's eq: arg1 equals any of the others.
func eq(arg1 any, others ...any) (bool, error) {
	if len(others) == 0 {
		return false, fmt.Errorf("eq: missing argument for comparison")
	}
	for _, b := range others {
		c, _, err := compare(arg1, b)
		if err != nil {
			return false, err
		}
		if c == 0 {
			return true, nil
		}
	}
	return false, nil
}

func ne(a, b any) (bool, error) {
	same, err := eq(a, b)
	return !same, err
}

// order returns the comparison of a and b, which must be numbers or strings; known is false
// when either is nil (a null field, a record that is not there: .old on create), and then
// lt, le, gt and ge are false, as SQL's comparisons with NULL are.
func order(name string, a, b any) (c int, known bool, err error) {
	if isNil(a) || isNil(b) {
		return 0, false, nil
	}
	c, ordered, err := compare(a, b)
	if err == nil && !ordered {
		err = fmt.Errorf("%v (%T) and %v (%T) have no order", a, a, b, b)
	}
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", name, err)
	}
	return c, true, nil
}

func lt(a, b any) (bool, error) { c, ok, err := order("lt", a, b); return ok && c < 0, err }
func le(a, b any) (bool, error) { c, ok, err := order("le", a, b); return ok && c <= 0, err }
func gt(a, b any) (bool, error) { c, ok, err := order("gt", a, b); return ok && c > 0, err }
func ge(a, b any) (bool, error) { c, ok, err := order("ge", a, b); return ok && c >= 0, err }

// isNil reports whether v is nil, typed or not: .old on create is a nil map, which Go's eq
// found equal to nil.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface, reflect.Func, reflect.Chan:
		return r.IsNil()
	}
	return false
}
