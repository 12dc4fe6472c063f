package selftest

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// shapeEnv shows bookings with a to-one unit, linked to u1 in the database.
type shapeEnv struct{ Env }

func (shapeEnv) ResourceOfPath(string) (string, bool) { return "bookings", true }
func (shapeEnv) Shape(string) ([]FieldShape, error) {
	return []FieldShape{{Name: "ref"}, {Name: "unit", Relation: ToOne}}, nil
}
func (shapeEnv) Related(context.Context, string, string, string, []string) (map[string][]string, error) {
	return map[string][]string{"b1": {"u1"}}, nil
}

// A dotted expand path shows its first relation as records: expand=unit.property holds each
// row's unit to an expanded record (with property expanded inside it), not to an id.
func TestRowsReadDottedExpandPaths(t *testing.T) {
	t.Parallel()
	r := &Runner{Env: shapeEnv{}}
	row := func(unit any) []any {
		return []any{map[string]any{"id": "b1", "created_at": "x", "updated_at": "x", "ref": "B1", "unit": unit}}
	}
	expanded := map[string]any{"id": "u1", "property": map[string]any{"id": "p1"}}
	for _, query := range []string{"expand=unit.property", "expand=unit,unit.property", "fields=ref&expand=unit.property"} {
		req, err := http.NewRequest("GET", "/api/bookings?"+query, nil)
		require.NoError(t, err)
		require.Empty(t, r.checkRows(context.Background(), req, row(expanded), "admin"), query)
		require.NotEmpty(t, r.checkRows(context.Background(), req, row("u1"), "admin"), query+": an id where a record is due")
	}
}
