package jsonschema

import (
	"strconv"
	"strings"
)

// Problem is one way a value fails its schema.
type Problem struct {
	Pointer string // JSON pointer of the failing value; "" is the whole value
	Schema  string // where the failing keyword is, e.g. #/components/schemas/Products/properties/price/type
	Message string // what was expected and what came
}

// String renders the problem as "/items/0/price: want number, got string (at …/type)".
func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" {
		ptr = "(root)"
	}
	return ptr + ": " + p.Message + " (at " + p.Schema + ")"
}

// Error lists the problems of one value: at most Config.MaxErrors, and how many more.
type Error struct {
	Problems []Problem
	More     int
}

func (e *Error) Error() string {
	parts := make([]string, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		parts = append(parts, p.String())
	}
	if e.More > 0 {
		parts = append(parts, "and "+strconv.Itoa(e.More)+" more")
	}
	return strings.Join(parts, "; ")
}

// SchemaError is a schema this package cannot judge: an unknown keyword, a malformed value
// of a known one, a $ref that leads nowhere. It fails the check rather than passing it.
type SchemaError struct {
	Location string // the keyword's place in the document
	Message  string
}

func (e *SchemaError) Error() string { return "schema " + e.Location + ": " + e.Message }
