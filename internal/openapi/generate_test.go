package openapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

// shopDocument generates the shop example's document, decoded.
func shopDocument(t *testing.T) map[string]any {
	t.Helper()
	s, err := spec.Load("../../examples/shop/kiln.yaml", spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	raw, err := Generate(s)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	return doc
}

func schemaAt(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
	require.True(t, ok, "schema %s", name)
	return s
}

func propAt(t *testing.T, schema map[string]any, name string) map[string]any {
	t.Helper()
	p, ok := schema["properties"].(map[string]any)[name].(map[string]any)
	require.True(t, ok, "property %s", name)
	return p
}

// A create schema requires only what the client must send: a field the server fills (a
// default, a default_expr, a computed value) is optional, and a field only some roles may set
// says so.
func TestCreateSchemaRequiresOnlyWhatTheClientSends(t *testing.T) {
	t.Parallel()
	doc := shopDocument(t)
	items := schemaAt(t, doc, "OrderItemsCreate")
	require.ElementsMatch(t, []any{"order", "product", "quantity"}, items["required"])
	require.Contains(t, propAt(t, items, "unit_price")["description"], "Only staff, admin may set it")
	nested := propAt(t, schemaAt(t, doc, "OrdersCreate"), "items")["items"].(map[string]any)
	require.ElementsMatch(t, []any{"product", "quantity"}, nested["required"])
}

// Sign-up's body is what the server accepts: no field with write roles (refused with 400
// not_allowed), a password, and an optional invitation code.
func TestSignupSchemaIsWhatSignupAccepts(t *testing.T) {
	t.Parallel()
	doc := shopDocument(t)
	op := doc["paths"].(map[string]any)["/api/auth/signup"].(map[string]any)["post"].(map[string]any)
	body := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	props := body["properties"].(map[string]any)
	for _, refused := range []string{"role", "verified", "disabled"} {
		require.NotContains(t, props, refused)
	}
	require.Contains(t, props, "invite")
	require.Contains(t, props, "email")
	require.ElementsMatch(t, []any{"email", "password"}, body["required"])
}

// A default is the create's only (PATCH applies none, a read shows what is stored) and a
// literal of the field's type: "now" is described, not given as a date-time default.
func TestDefaultsOnlyInCreateSchemasAndLiteral(t *testing.T) {
	t.Parallel()
	doc := shopDocument(t)
	require.Equal(t, true, propAt(t, schemaAt(t, doc, "ProductsCreate"), "active")["default"])
	require.Equal(t, "pending", propAt(t, schemaAt(t, doc, "OrdersCreate"), "status")["default"])
	for _, name := range []string{"ProductsUpdate", "Products"} {
		require.NotContains(t, propAt(t, schemaAt(t, doc, name), "active"), "default", name)
	}
	for _, name := range []string{"OrdersCreate", "OrdersUpdate", "Orders"} {
		require.NotContains(t, propAt(t, schemaAt(t, doc, name), "placed_at"), "default", name)
		require.NotContains(t, propAt(t, schemaAt(t, doc, name), "owner"), "default", name)
	}
	require.Contains(t, propAt(t, schemaAt(t, doc, "OrdersCreate"), "placed_at")["description"], "Defaults to the time of the create")
}

// A write that takes an Idempotency-Key declares the Idempotent-Replayed header of its
// answers; PUT, which takes none, does not.
func TestIdempotentReplayedIsDeclaredOnKeyedWrites(t *testing.T) {
	t.Parallel()
	paths := shopDocument(t)["paths"].(map[string]any)
	header := func(path, method, code string) map[string]any {
		resp := paths[path].(map[string]any)[method].(map[string]any)["responses"].(map[string]any)[code].(map[string]any)
		return resp["headers"].(map[string]any)
	}
	require.Contains(t, header("/api/orders", "post", "201"), "Idempotent-Replayed")
	require.Contains(t, header("/api/orders", "post", "201"), "Location")
	require.Contains(t, header("/api/orders/{id}", "patch", "200"), "Idempotent-Replayed")
	require.NotContains(t, header("/api/orders/{id}", "put", "200"), "Idempotent-Replayed")
}

// Only a field that can hold null allows it: the order's status, a state machine with
// initial states, never does (the server refuses null on create and update); a plain
// optional field with a default (products.active) can be cleared, so it keeps null.
func TestNullOnlyWhereTheFieldCanBeNull(t *testing.T) {
	t.Parallel()
	doc := shopDocument(t)
	for _, name := range []string{"Orders", "OrdersCreate", "OrdersUpdate"} {
		status := propAt(t, schemaAt(t, doc, name), "status")
		require.Equal(t, "string", status["type"], name)
		require.NotContains(t, status["enum"], nil, name)
	}
	require.Equal(t, []any{"boolean", "null"}, propAt(t, schemaAt(t, doc, "ProductsUpdate"), "active")["type"])
}

// An API key sent as X-API-Key is a declared scheme, accepted beside a bearer credential
// wherever keys are: the resources' routes, actions and batch.
func TestAPIKeyIsADeclaredSecurityScheme(t *testing.T) {
	t.Parallel()
	doc := shopDocument(t)
	scheme := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)["apiKeyAuth"].(map[string]any)
	require.Equal(t, map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
		map[string]any{"type": scheme["type"], "in": scheme["in"], "name": scheme["name"]})
	paths := doc["paths"].(map[string]any)
	for _, at := range [][2]string{{"/api/orders", "get"}, {"/api/orders/{id}", "patch"}, {"/api/orders/{id}/cancel", "post"}, {"/api/batch", "post"}} {
		security := paths[at[0]].(map[string]any)[at[1]].(map[string]any)["security"]
		require.Contains(t, security, map[string]any{"apiKeyAuth": []any{}}, at)
		require.Contains(t, security, map[string]any{"bearerAuth": []any{}}, at)
	}
}

// A list operation declares the shorthand filters the server reads (?category=<id>, ?tags=<id>,
// ?price=…): a generated client typed the README's ?category= as an error. Fields the server
// refuses as shorthands (files, hidden ones) are not declared.
func TestListOperationsDeclareTheirShorthands(t *testing.T) {
	t.Parallel()
	doc := shopDocument(t)
	list := doc["paths"].(map[string]any)["/api/products"].(map[string]any)["get"].(map[string]any)
	params := map[string]map[string]any{}
	for _, p := range list["parameters"].([]any) {
		m := p.(map[string]any)
		if name, ok := m["name"].(string); ok && m["in"] == "query" {
			params[name] = m["schema"].(map[string]any)
		}
	}
	require.Equal(t, map[string]any{"type": "string", "format": "uuid"}, params["category"])
	require.Equal(t, map[string]any{"type": "string", "format": "uuid"}, params["tags"])
	require.Equal(t, map[string]any{"type": "number"}, params["price"])
	require.Equal(t, map[string]any{"type": "boolean"}, params["active"])
	require.Contains(t, params, "id")
	require.NotContains(t, params, "image", "a file field is no shorthand")

	users := doc["paths"].(map[string]any)["/api/users"].(map[string]any)["get"].(map[string]any)
	for _, p := range users["parameters"].([]any) {
		require.NotEqual(t, "password_hash", p.(map[string]any)["name"], "a hidden field is no shorthand")
	}
}
