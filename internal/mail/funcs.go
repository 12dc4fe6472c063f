package mail

import (
	"encoding/json"
	"fmt"
	"math/big"
)

// funcs are the functions templates may call besides Go's own, and the comparisons that take
// the place of Go's (compare.go).
var funcs = map[string]any{"fixed": fixed, "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, blankFunc: blank}

// blankFunc ends each writing action of a text template (blankNils): nil writes nothing.
const blankFunc = "_kiln_blank"

func blank(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// fixed writes a number with exactly places digits after the point, rounded half away from
// zero, exactly (a decimal is never a float on the way): {{fixed 2 .new.total}} is "25.50"
// for a total of 25.5. A missing value (nil, or an empty string) writes nothing; a value that
// is no number is an error.
func fixed(places int, v any) (string, error) {
	if places < 0 || places > 18 {
		return "", fmt.Errorf("fixed: %d places: give 0 to 18", places)
	}
	var text string
	switch x := v.(type) {
	case nil:
		return "", nil
	case json.Number:
		text = x.String()
	case string:
		if x == "" {
			return "", nil
		}
		text = x
	case fmt.Stringer:
		text = x.String()
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		text = fmt.Sprint(x)
	default:
		return "", fmt.Errorf("fixed: %v (%T) is not a number", v, v)
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return "", fmt.Errorf("fixed: %q is not a number", text)
	}
	return r.FloatString(places), nil
}
