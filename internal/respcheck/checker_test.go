package respcheck

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/jsonschema"
	"github.com/kiln-dev/kiln/internal/openapi"
	"github.com/kiln-dev/kiln/internal/spec"
)

const doc = `{
  "openapi": "3.1.0",
  "servers": [{"url": "/"}],
  "paths": {
    "/api/products": {"get": {"responses": {
      "200": {"description": "page", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProductsList"}}},
              "headers": {"X-Request-ID": {"schema": {"type": "string"}}, "ETag": {"required": true, "schema": {"type": "string"}}}},
      "304": {"description": "Not modified"},
      "4XX": {"$ref": "#/components/responses/Error"}}}},
    "/api/products/{id}": {"get": {"responses": {
      "200": {"description": "one", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Products"}}},
              "headers": {"RateLimit-Remaining": {"schema": {"type": "integer"}}}},
      "404": {"$ref": "#/components/responses/NotFound"},
      "default": {"$ref": "#/components/responses/Error"}}}},
    "/api/products/events": {"get": {"responses": {
      "200": {"description": "stream", "content": {"text/event-stream": {"schema": {"type": "object"}}}}}}},
    "/api/{resource}/{id}/files/{file}": {"delete": {"responses": {"204": {"description": "gone"}}}}
  },
  "components": {
    "schemas": {
      "Products": {"type": "object", "required": ["id", "price"], "additionalProperties": false, "properties": {
        "id": {"type": "string", "format": "uuid"}, "price": {"type": "number", "minimum": 0}, "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"}, "tags": {"type": "array", "items": {"type": "string"}}}},
      "ProductsList": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Products"}}}},
      "Problem": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    },
    "responses": {
      "NotFound": {"description": "nf", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Error": {"description": "any", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    }
  }
}`

const product = `{"id": "0192f0a0-0000-7000-8000-000000000000", "price": 9.5}`

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestCheck(t *testing.T) {
	t.Parallel()
	c, err := New([]byte(doc))
	require.NoError(t, err)
	jsonH, problemH := hdr("Content-Type", "application/json", "ETag", `"x"`), hdr("Content-Type", "application/problem+json")
	tests := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		want               string // "" passes
	}{
		{name: "Item", method: "GET", path: "/api/products/abc", status: 200, header: jsonH, body: product},
		{name: "ContentTypeWithCharset", method: "GET", path: "/api/products/abc", status: 200, header: hdr("Content-Type", "application/json; charset=utf-8"), body: product},
		{name: "List", method: "GET", path: "/api/products", status: 200, header: jsonH, body: `{"items": [` + product + `]}`},
		{name: "ListItemWrongType", method: "GET", path: "/api/products", status: 200, header: jsonH,
			body: `{"items": [` + product + `, {"id": "0192f0a0-0000-7000-8000-000000000000", "price": "9"}]}`,
			want: "GET /api/products → 200: body /items/1/price: want number, got string (at #/components/schemas/Products/properties/price/type)"},
		{name: "RequiredFieldRemoved", method: "GET", path: "/api/products/abc", status: 200, header: jsonH, body: `{"id": "0192f0a0-0000-7000-8000-000000000000"}`,
			want: `GET /api/products/{id} → 200: body (root): missing required property "price"`},
		{name: "Pattern", method: "GET", path: "/api/products/abc", status: 200, header: jsonH, body: `{"id": "0192f0a0-0000-7000-8000-000000000000", "price": 1, "sku": "ABC-12"}`},
		{name: "PatternRefuses", method: "GET", path: "/api/products/abc", status: 200, header: jsonH, body: `{"id": "0192f0a0-0000-7000-8000-000000000000", "price": 1, "sku": "abc"}`,
			want: `body /sku: "abc" does not match pattern "^[A-Z]{3}-[0-9]+$" (at #/components/schemas/Products/properties/sku/pattern)`},
		{name: "ExtraField", method: "GET", path: "/api/products/abc", status: 200, header: jsonH, body: `{"id": "0192f0a0-0000-7000-8000-000000000000", "price": 1, "colour": "red"}`,
			want: `body /colour: property "colour" is not allowed`},
		{name: "LiteralSegmentWins", method: "GET", path: "/api/products/events", status: 200, header: hdr("Content-Type", "text/event-stream"), body: "id: 1\n"},
		{name: "TemplatedSegments", method: "DELETE", path: "/api/orders/1/files/2", status: 204},
		{name: "UnknownPath", method: "GET", path: "/api/nothing", status: 200, want: "GET /api/nothing → 200: path is not in the document"},
		{name: "EmptyParameter", method: "GET", path: "/api/products/", status: 200, want: "path is not in the document"},
		{name: "UnknownMethod", method: "POST", path: "/api/products/abc", status: 200, want: "method POST is not documented for /api/products/{id} (documented: GET)"},
		{name: "ExactStatus", method: "GET", path: "/api/products/abc", status: 404, header: problemH, body: `{"error": "not_found"}`},
		{name: "StatusRange", method: "GET", path: "/api/products", status: 422, header: problemH, body: `{"detail": 1}`,
			want: `GET /api/products → 422 (declared as 4XX): body (root): missing required property "error"`},
		{name: "StatusDefault", method: "GET", path: "/api/products/abc", status: 500, header: problemH, body: `{"error": 5}`,
			want: "(declared as default): body /error: want string, got number 5"},
		{name: "StatusUndeclared", method: "GET", path: "/api/products", status: 500, header: problemH, body: `{"error": "x"}`,
			want: "status 500 is not declared (declared: 200, 304, 4XX)"},
		{name: "NoContentDeclared", method: "GET", path: "/api/products", status: 304, header: hdr("ETag", "x")},
		{name: "WrongContentType", method: "GET", path: "/api/products/abc", status: 200, header: hdr("Content-Type", "text/html"), body: "<p>",
			want: `Content-Type "text/html" is not declared (declared: application/json)`},
		{name: "MissingContentType", method: "GET", path: "/api/products/abc", status: 200, body: product, want: `Content-Type "" is not declared`},
		{name: "NotJSON", method: "GET", path: "/api/products/abc", status: 200, header: jsonH, body: `{"id": `, want: "body is not JSON"},
		{name: "TrailingData", method: "GET", path: "/api/products/abc", status: 200, header: jsonH, body: product + ` {}`, want: "body is not JSON"},
		{name: "RequiredHeaderMissing", method: "GET", path: "/api/products", status: 200, header: hdr("Content-Type", "application/json"),
			body: `{"items": []}`, want: "required header ETag is missing"},
		{name: "HeaderSchema", method: "GET", path: "/api/products/abc", status: 200, header: hdr("Content-Type", "application/json", "RateLimit-Remaining", "many"),
			body: product, want: "header RateLimit-Remaining: want integer, got string"},
		{name: "HeaderSchemaAccepts", method: "GET", path: "/api/products/abc", status: 200, header: hdr("Content-Type", "application/json", "RateLimit-Remaining", "9"), body: product},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := c.Check(tt.method, tt.path, tt.status, tt.header, []byte(tt.body))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			var cerr *Error
			require.ErrorAs(t, err, &cerr)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestServerPathIsStripped(t *testing.T) {
	t.Parallel()
	c, err := New([]byte(strings.Replace(doc, `"url": "/"`, `"url": "/v1/"`, 1)))
	require.NoError(t, err)
	require.NoError(t, c.Check("DELETE", "/v1/api/orders/1/files/2", 204, nil, nil))
	require.ErrorContains(t, c.Check("DELETE", "/api/orders/1/files/2", 204, nil, nil), "path is not in the document")
}

func TestNewRefusesUnknownKeywords(t *testing.T) {
	t.Parallel()
	_, err := New([]byte(strings.Replace(doc, `"minimum": 0`, `"minimum": 0, "dependentRequired": {}`, 1)))
	var serr *jsonschema.SchemaError
	require.True(t, errors.As(err, &serr), "%v", err)
	require.ErrorContains(t, err, `schema #/components/schemas/Products/properties/price/dependentRequired: unknown keyword "dependentRequired"`)
	_, err = New([]byte(strings.Replace(doc, `"text/event-stream": {"schema": {"type": "object"}}`,
		`"text/event-stream": {"schema": {"type": "object", "unevaluatedProperties": false}}`, 1)))
	require.ErrorContains(t, err, `#/paths/~1api~1products~1events/get/responses/200/content/text~1event-stream/schema/unevaluatedProperties`)
	_, err = New([]byte(strings.Replace(doc, `#/components/responses/NotFound`, `#/components/responses/Gone`, 1)))
	require.ErrorContains(t, err, `no "Gone"`)
	_, err = New([]byte(`[1]`))
	require.Error(t, err)
}

// Every document Kiln generates for the specs in the repository uses only keywords the
// check knows: a generator change that adds one fails here first.
func TestNewAcceptsEveryGeneratedDocument(t *testing.T) {
	t.Parallel()
	paths := []string{"../../examples/shop/kiln.yaml", "../../examples/library/kiln.yaml", "../../examples/extend/kiln.yaml",
		"../derive/testdata/everything.yaml", "../derive/testdata/open.yaml"}
	for _, p := range paths {
		t.Run(filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), func(t *testing.T) {
			t.Parallel()
			s, err := spec.Load(p, spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
			require.NoError(t, err)
			out, err := openapi.Generate(s)
			require.NoError(t, err)
			_, err = New(out)
			require.NoError(t, err)
		})
	}
}

// Whatever a server answers, the check returns a verdict: no panic, no schema error on a
// document it accepted.
func FuzzCheck(f *testing.F) {
	c, err := New([]byte(doc))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", "/api/products/x", 200, "application/json", product)
	f.Add("GET", "/api/products", 200, "application/json", `{"items": [{"id": 1e400, "price": -0.0}]}`)
	f.Add("GET", "/api/products", 404, "application/problem+json", `{"error": [[[[[[]]]]]]}`)
	f.Add("DELETE", "/api/a/b/files//", 99, ";;;", "\xff")
	f.Fuzz(func(t *testing.T, method, path string, status int, contentType, body string) {
		err := c.Check(method, path, status, hdr("Content-Type", contentType), []byte(body))
		var serr *jsonschema.SchemaError
		if errors.As(err, &serr) {
			t.Fatalf("schema error on an accepted document: %v", err)
		}
	})
}
