package kiln_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"
)

func TestOpenAPIDocumentValidatesAndDescribesResponses(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	res := b.do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "3.1.0", res.body["openapi"])

	doc, err := libopenapi.NewDocument(res.raw)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "%v", verrs)
	paths := res.body["paths"].(map[string]any)
	require.Contains(t, paths, "/api/orders/{id}/cancel", "actions are documented")
	require.Contains(t, paths, "/api/batch")
	require.Contains(t, paths, "/api/orders/{id}/pay", "payments are documented")
	require.Contains(t, paths, "/api/orders/{id}/refund")
	require.NotContains(t, string(res.raw), "STRIPE_SECRET_KEY")
	schemas := res.body["components"].(map[string]any)["schemas"].(map[string]any)
	orderProps := schemas["Orders"].(map[string]any)["properties"].(map[string]any)
	require.Equal(t, true, orderProps["total"].(map[string]any)["readOnly"], "a rollup is read-only")
	require.Contains(t, orderProps["status"], "x-kiln-transitions")
	require.Contains(t, schemas["OrdersCreate"].(map[string]any)["properties"], "items", "nested children are part of the create body")
	codes := schemas["Problem"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)["enum"]
	require.Subset(t, codes, []any{"insufficient_stock", "invalid_transition", "idempotency_key_reused", "order_closed"})

	cat := b.create("categories", map[string]any{"name": "Shoes", "slug": "shoes"})
	prod := b.product("Boot", "19.99", 10)
	order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(prod, 1)}})
	require.Equal(t, http.StatusCreated, order.status, string(order.raw))
	oid := order.body["id"].(string)
	items := `{"items":[{"product":"` + prod + `","quantity":2}]}`
	exchanges := []struct{ method, path, body string }{
		{"POST", "/api/orders", items},
		{"POST", "/api/orders", `{"items":[{"product":"` + prod + `","quantity":999}]}`},
		{"PATCH", "/api/orders/" + oid, `{"status":"delivered"}`},
		{"POST", "/api/orders/" + oid + "/cancel", ""},
		{"POST", "/api/batch", `{"operations":[{"method":"POST","path":"/api/tags","body":{"name":"doc"}}]}`},
		{"POST", "/api/products", `{"name":"Test Product","price":29.99,"category":"` + cat + `"}`},
		{"POST", "/api/products", `{"name":"","price":-10}`},
		{"GET", "/api/products?limit=5&sort=-price&expand=category&count=true", ""},
		{"GET", "/api/categories/" + cat + "?expand=products", ""},
		{"GET", "/api/orders/" + oid + "?expand=items.product.category,customer", ""},
		{"GET", "/api/order_items?expand=order.items,product.tags", ""},
		{"GET", "/api/products/0192f0a0-0000-7000-8000-000000000000", ""},
		{"POST", "/api/auth/login", `{"email":"nobody@example.com","password":"x"}`},
		{"GET", "/api/auth/me", ""},
	}
	for _, ex := range exchanges {
		var body io.Reader
		if ex.body != "" {
			body = strings.NewReader(ex.body)
		}
		req, err := http.NewRequest(ex.method, b.srv.URL+ex.path, body)
		require.NoError(t, err)
		if ex.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+b.admin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		// The validator matches paths against servers[0].url, so validate with a path-only request.
		vreq, _ := http.NewRequest(ex.method, ex.path, strings.NewReader(ex.body))
		if ex.body != "" {
			vreq.Header.Set("Content-Type", "application/json")
		}
		require.Less(t, resp.StatusCode, 500)
		if strings.Contains(ex.path, "expand=") {
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", ex.path, raw) // expanded records, every level, are in the schema
		}
		ok, verrs := v.ValidateHttpResponse(vreq, resp)
		require.True(t, ok, "%s %s -> %d %s: %v", ex.method, ex.path, resp.StatusCode, raw, describeErrs(verrs))
	}
}

func describeErrs[E interface{ Error() string }](errs []E) string {
	var parts []string
	for _, e := range errs {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

func TestDocsPageServesEmbeddedAssets(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	res := b.do("GET", "/docs", nil)
	require.Equal(t, http.StatusOK, res.status)
	page := string(res.raw)
	require.Contains(t, page, `data-url="/api/openapi.json"`)
	for _, asset := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"} {
		require.Contains(t, page, asset)
		a := b.do("GET", asset, nil)
		require.Equal(t, http.StatusOK, a.status, asset)
		require.NotEmpty(t, a.raw)
	}
	require.Equal(t, http.StatusNotFound, b.do("GET", "/docs/../kiln.go", nil).status)
}

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		require.Equal(t, http.StatusOK, b.do("GET", "/healthz", nil).status)
		require.Equal(t, "ok", b.do("GET", "/readyz", nil).body["status"])
	})
}

// Nested children are documented at every level: a course's sections with their lessons (the
// second level was left out under additionalProperties: false, so a client validating
// against the document refused a body the server accepts: found by a helper).
func TestOpenAPIDocumentsNestedChildrenAtEveryLevel(t *testing.T) {
	t.Parallel()
	src := `resources:
  courses:
    fields:
      title: string
      sections: {type: relation, to: sections, inverse: course, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  sections:
    fields:
      course: {type: relation, to: courses, required: true}
      title: string
      lessons: {type: relation, to: lessons, inverse: section, nested: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  lessons:
    fields:
      section: {type: relation, to: sections, required: true}
      title: string
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	b := setup(t, "sqlite", src)
	body := map[string]any{"title": "c", "sections": []any{map[string]any{"title": "s", "lessons": []any{map[string]any{"title": "l"}}}}}
	require.Equal(t, http.StatusCreated, b.do("POST", "/api/courses", body).status)
	res := b.do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	create := res.body["components"].(map[string]any)["schemas"].(map[string]any)["CoursesCreate"].(map[string]any)
	sections := create["properties"].(map[string]any)["sections"].(map[string]any)["items"].(map[string]any)
	lessons := sections["properties"].(map[string]any)["lessons"].(map[string]any)["items"].(map[string]any)
	require.Contains(t, lessons["properties"], "title")
	require.NotContains(t, lessons["properties"], "section", "set by its parent")
}
