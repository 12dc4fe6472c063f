package query

import (
	"slices"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/value"
)

// Eval decides c for one record in memory, with the store's semantics: a comparison with a
// missing (nil) value is false, except "== nil". get returns a field's typed value.
// It checks records that are not stored yet (create) or are about to change (update).
func Eval(c Cond, get func(field string) any) bool {
	switch c := c.(type) {
	case nil:
		return true
	case Compare:
		return compare(get(c.Field), c.Op, c.Value)
	case In:
		v := get(c.Field)
		if v == nil {
			return false
		}
		found := false
		for _, x := range c.Values {
			if compare(v, Eq, x) {
				found = true
			}
		}
		return found != c.Not
	case Match:
		s, ok := get(c.Field).(string)
		if !ok {
			return false
		}
		switch c.Kind {
		case Prefix:
			return strings.HasPrefix(s, c.Text)
		case Suffix:
			return strings.HasSuffix(s, c.Text)
		}
		return strings.Contains(s, c.Text)
	case Has:
		return linked(get(c.Field), c.ID)
	case And:
		for _, x := range c {
			if !Eval(x, get) {
				return false
			}
		}
		return true
	case Or:
		for _, x := range c {
			if Eval(x, get) {
				return true
			}
		}
		return false
	case Not:
		return !Eval(c.Cond, get)
	}
	return false
}

// linked reports whether a list of ids ([]string, or []any of strings) holds id.
func linked(ids any, id string) bool {
	switch l := ids.(type) {
	case []string:
		return slices.Contains(l, id)
	case []any:
		return slices.Contains(l, any(id))
	}
	return false
}

func compare(a any, op Op, b any) bool {
	if b == nil {
		return (a == nil) == (op == Eq)
	}
	if a == nil {
		return false
	}
	n, ok := order(a, b)
	if !ok {
		return false
	}
	switch op {
	case Eq:
		return n == 0
	case Ne:
		return n != 0
	case Lt:
		return n < 0
	case Le:
		return n <= 0
	case Gt:
		return n > 0
	case Ge:
		return n >= 0
	}
	return false
}

// order compares two values of the same kind: -1, 0 or 1, and false when they do not compare.
func order(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	case int64:
		y, ok := b.(int64)
		return cmp3(x < y, x > y), ok
	case float64:
		y, ok := b.(float64)
		return cmp3(x < y, x > y), ok
	case value.Decimal:
		y, ok := b.(value.Decimal)
		return x.Cmp(y), ok && x.Scale == y.Scale
	case bool:
		y, ok := b.(bool)
		return cmp3(!x && y, x && !y), ok
	case time.Time:
		y, ok := b.(time.Time)
		return x.Compare(y), ok
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

// CompareValues orders two values of one field as the store sorts them ascending: nil
// first, then by value (-1, 0 or 1). Values of different kinds compare as equal.
func CompareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	n, _ := order(a, b)
	return n
}
