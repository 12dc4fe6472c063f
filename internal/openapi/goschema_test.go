package openapi

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type audit struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

type node struct {
	Name     string  `json:"name"`
	Children []*node `json:"children"`
}

type stamp struct{ t time.Time }

func (s stamp) MarshalJSON() ([]byte, error) { return json.Marshal(s.t.Unix()) }

type doc struct {
	audit
	Named   audit           `json:"named"`
	ID      int64           `json:"id,string"`
	Secret  string          `json:"-"`
	Dash    string          `json:"-,"`
	Plain   bool            // named by the Go field
	Blob    []byte          `json:"blob,omitempty"`
	Raw     json.RawMessage `json:"raw"`
	Tree    node            `json:"tree"`
	When    stamp           `json:"when"`
	Any     any             `json:"any"`
	Fixed   [2]float32      `json:"fixed"`
	private string
}

// SchemaOf follows encoding/json: embedded structs' fields promoted, json names and options
// (- leaves a field out, -, names it "-", string quotes a number, omitempty makes it
// optional), []byte base64, a type met inside itself and a MarshalJSON type any value.
func TestSchemaOfFollowsEncodingJSON(t *testing.T) {
	t.Parallel()
	s := SchemaOf(reflect.TypeFor[doc]())
	props := s["properties"].(obj)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	require.ElementsMatch(t, []string{"by", "at", "named", "id", "-", "Plain", "blob", "raw", "tree", "when", "any", "fixed"}, names)
	require.Equal(t, obj{"type": "string"}, props["id"])
	require.Equal(t, "string", props["blob"].(obj)["type"])
	require.Equal(t, obj{}, props["raw"])
	require.Equal(t, obj{}, props["when"])
	require.Equal(t, obj{}, props["any"])
	require.Equal(t, obj{"type": "array", "items": obj{"type": "number"}}, props["fixed"])
	require.NotContains(t, s["required"], "blob")
	require.Contains(t, s["required"], "by")
	tree := props["tree"].(obj)["properties"].(obj)
	require.Equal(t, obj{}, tree["children"].(obj)["items"], "a node inside a node is any value")
	require.Equal(t, obj{"type": []string{"object", "null"}, "additionalProperties": obj{"type": "integer"}}, SchemaOf(reflect.TypeFor[map[string]int]()))
	require.Equal(t, obj{"type": []string{"string", "null"}}, SchemaOf(reflect.TypeFor[*string]()))
}

// A route's pattern becomes its method and OpenAPI path.
func TestSplitPattern(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"GET /api/x":                 {"GET", "/api/x"},
		"post /api/x/{id}/{rest...}": {"POST", "/api/x/{id}/{rest}"},
		"/api/x/{$}":                 {"", "/api/x/"},
		"GET example.com/api/y":      {"GET", "/api/y"},
	} {
		m, p, ok := splitPattern(in)
		require.True(t, ok, in)
		require.Equal(t, want, [2]string{m, p}, in)
	}
}
