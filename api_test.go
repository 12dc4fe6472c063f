package kiln_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreateProduct(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		res := b.do("POST", "/api/products", map[string]any{"name": "Test Product", "price": 29.99})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		id := res.body["id"].(string)
		require.Equal(t, "/api/products/"+id, res.header.Get("Location"))
		require.Equal(t, "Test Product", res.body["name"])
		require.Equal(t, json.Number("29.99"), res.body["price"])
		require.NotEmpty(t, res.body["created_at"])
		require.NotEmpty(t, res.header.Get("X-Request-ID"))

		// The row keeps the price exactly: minor units in SQLite, NUMERIC in PostgreSQL.
		rows, err := b.app.Store.Reader().QueryRaw(context.Background(), "SELECT CAST(price AS TEXT) FROM products WHERE id = ?", id)
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		var stored string
		require.NoError(t, rows.Scan(&stored))
		want := map[string]string{"sqlite": "2999", "postgres": "29.99"}[dialect]
		require.Equal(t, want, stored)

		got := b.do("GET", "/api/products/"+id, nil)
		require.Equal(t, http.StatusOK, got.status)
		require.Equal(t, json.Number("29.99"), got.body["price"])
		require.Equal(t, `"1"`, got.header.Get("ETag"))
	})
}

func TestValidationReportsEveryField(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		res := b.do("POST", "/api/products", map[string]any{"name": "", "price": -10})
		require.Equal(t, http.StatusBadRequest, res.status)
		require.Equal(t, "validation_failed", res.body["error"])
		require.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
		require.Equal(t, map[string]string{"name": "min_length", "price": "min"}, fieldCodes(res.body))
		require.NotEmpty(t, res.body["request_id"])
		require.Zero(t, b.count("products"))

		missing := "0192f0a0-0000-7000-8000-00000000dead"
		links := b.do("POST", "/api/products", map[string]any{"name": "", "price": 1, "category": missing, "tags": []any{missing}})
		require.Equal(t, map[string]string{"name": "min_length", "category": "not_found", "tags": "not_found"}, fieldCodes(links.body),
			"links to missing records are reported with the other field errors, not after them")
	})
}

func TestBadInputGetsPreciseErrors(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		catID := b.create("categories", map[string]any{"name": "Shoes", "slug": "shoes"})
		custID := b.create("customers", map[string]any{"name": "Ann", "email": "ann@example.com"})
		orderID := b.create("orders", map[string]any{"customer": custID})
		bootID := b.create("products", map[string]any{"name": "Boot", "price": "10", "sku": "B1", "category": catID, "stock": 5})
		b.create("products", map[string]any{"name": "Shoe", "price": "10", "sku": "B2"})
		b.create("order_items", map[string]any{"order": orderID, "product": bootID, "quantity": 1, "unit_price": "10"})
		tagID := b.create("tags", map[string]any{"name": "winter"})
		missing := "0192f0a0-0000-7000-8000-000000000000"
		big := `{"name":"` + strings.Repeat("x", 1<<20+10) + `","price":1}`
		cases := []struct {
			name, method, path string
			body               any
			headers            []string
			status             int
			code               string
			fields             map[string]string
		}{
			{name: "MalformedJSON", method: "POST", path: "/api/products", body: `{"name": "x",`, status: 400, code: "malformed_request"},
			{name: "NotAnObject", method: "POST", path: "/api/products", body: `[1,2]`, status: 400, code: "malformed_request"},
			{name: "TrailingData", method: "POST", path: "/api/products", body: `{"name":"a","price":1} {}`, status: 400, code: "malformed_request"},
			{name: "WrongTypes", method: "POST", path: "/api/products", body: map[string]any{"name": 5, "price": "abc", "stock": 1.5, "active": "yes"},
				status: 400, code: "validation_failed", fields: map[string]string{"name": "type", "price": "type", "stock": "type", "active": "type"}},
			{name: "UnknownField", method: "POST", path: "/api/products", body: map[string]any{"name": "a", "price": 1, "colour": "red"},
				status: 400, code: "validation_failed", fields: map[string]string{"colour": "unknown_field"}},
			{name: "MissingRequired", method: "POST", path: "/api/products", body: map[string]any{"description": "x"},
				status: 400, code: "validation_failed", fields: map[string]string{"name": "required", "price": "required"}},
			{name: "TooManyDecimals", method: "POST", path: "/api/products", body: map[string]any{"name": "a", "price": 1.005},
				status: 400, code: "validation_failed", fields: map[string]string{"price": "scale"}},
			{name: "UniqueViolation", method: "POST", path: "/api/products", body: map[string]any{"name": "a", "price": 1, "sku": "B1"},
				status: 409, code: "conflict", fields: map[string]string{"sku": "unique"}},
			{name: "UniqueViolationOfTwoFields", method: "POST", path: "/api/categories", body: map[string]any{"name": "Shoes", "slug": "shoes"},
				status: 409, code: "conflict", fields: map[string]string{"name": "unique", "slug": "unique"}},
			{name: "UniqueViolationOfAnUpdate", method: "PATCH", path: "/api/products/" + bootID, body: map[string]any{"sku": "B2"},
				status: 409, code: "conflict", fields: map[string]string{"sku": "unique"}},
			{name: "MissingRelation", method: "POST", path: "/api/products", body: map[string]any{"name": "a", "price": 1, "category": missing},
				status: 400, code: "validation_failed", fields: map[string]string{"category": "not_found"}},
			{name: "MissingManyRelation", method: "POST", path: "/api/products", body: map[string]any{"name": "a", "price": 1, "tags": []string{missing}},
				status: 400, code: "validation_failed", fields: map[string]string{"tags": "not_found"}},
			{name: "Oversized", method: "POST", path: "/api/products", body: big, status: 413, code: "payload_too_large"},
			{name: "WrongContentType", method: "POST", path: "/api/products", body: `name=x`, headers: []string{"Content-Type", "text/plain"}, status: 415, code: "unsupported_media_type"},
			{name: "UnknownResource", method: "GET", path: "/api/widgets", status: 404, code: "not_found"},
			{name: "UnknownID", method: "GET", path: "/api/products/" + missing, status: 404, code: "not_found"},
			{name: "MalformedID", method: "GET", path: "/api/products/not-a-uuid", status: 404, code: "not_found"},
			{name: "PatchUnknownID", method: "PATCH", path: "/api/products/" + missing, body: map[string]any{"name": "x"}, status: 404, code: "not_found"},
			{name: "WrongMethod", method: "DELETE", path: "/api/products", status: 405, code: "method_not_allowed"},
			{name: "BadFilter", method: "GET", path: "/api/products?filter=pric%20%3E%201", status: 400, code: "malformed_request", fields: map[string]string{"filter": "invalid_filter"}},
			{name: "BadSort", method: "GET", path: "/api/products?sort=colour", status: 400, code: "malformed_request", fields: map[string]string{"sort": "invalid_sort"}},
			{name: "BadFields", method: "GET", path: "/api/products?fields=name,colour", status: 400, code: "malformed_request", fields: map[string]string{"fields": "invalid_fields"}},
			{name: "BadCursor", method: "GET", path: "/api/products?cursor=abc", status: 400, code: "malformed_request", fields: map[string]string{"cursor": "invalid_cursor"}},
			{name: "BadLimit", method: "GET", path: "/api/products?limit=1000", status: 400, code: "malformed_request", fields: map[string]string{"limit": "range"}},
			{name: "UnknownParam", method: "GET", path: "/api/products?colour=red", status: 400, code: "malformed_request", fields: map[string]string{"colour": "unknown_parameter"}},
			{name: "BadShorthandValue", method: "GET", path: "/api/products?stock=many", status: 400, code: "malformed_request", fields: map[string]string{"stock": "type"}},
			{name: "BadExpand", method: "GET", path: "/api/products?expand=name", status: 400, code: "malformed_request", fields: map[string]string{"expand": "invalid_expand"}},
			{name: "BadUUIDInFilter", method: "GET", path: "/api/products?filter=category%20%3D%3D%20%22x%22", status: 400, code: "malformed_request", fields: map[string]string{"filter": "invalid_filter"}},
			{name: "StillReferenced", method: "DELETE", path: "/api/products/" + bootID, status: 409, code: "conflict",
				fields: map[string]string{"order_items.product": "referenced"}},
			{name: "BadEmail", method: "POST", path: "/api/customers", body: map[string]any{"name": "B", "email": "nope"},
				status: 400, code: "validation_failed", fields: map[string]string{"email": "format"}},
			{name: "BadEnum", method: "PATCH", path: "/api/customers/" + custID, body: map[string]any{"phone": 5},
				status: 400, code: "validation_failed", fields: map[string]string{"phone": "type"}},
			{name: "ReadonlySystemField", method: "POST", path: "/api/tags", body: map[string]any{"name": "t", "id": missing},
				status: 400, code: "validation_failed", fields: map[string]string{"id": "readonly"}},
			{name: "BadQueryString", method: "GET", path: "/api/products?sort=name;x", status: 400, code: "malformed_request"},
			// A write takes no query parameter: one sent is refused, not ignored while the write goes ahead.
			{name: "CreateWithAParameter", method: "POST", path: "/api/products?dry_run=true", body: map[string]any{"name": "a", "price": 1},
				status: 400, code: "malformed_request", fields: map[string]string{"dry_run": "unknown_parameter"}},
			{name: "PatchWithParameters", method: "PATCH", path: "/api/products/" + bootID + "?fields=name&expand=category", body: map[string]any{"name": "x"},
				status: 400, code: "malformed_request", fields: map[string]string{"fields": "unknown_parameter", "expand": "unknown_parameter"}},
			{name: "PutWithAParameter", method: "PUT", path: "/api/products/" + bootID + "?partial=1", body: map[string]any{"name": "x", "price": 1},
				status: 400, code: "malformed_request", fields: map[string]string{"partial": "unknown_parameter"}},
			{name: "DeleteWithAParameter", method: "DELETE", path: "/api/tags/" + tagID + "?soft=1", status: 400, code: "malformed_request",
				fields: map[string]string{"soft": "unknown_parameter"}},
			{name: "BatchWithAParameter", method: "POST", path: "/api/batch?atomic=false",
				body:   map[string]any{"operations": []any{map[string]any{"method": "POST", "path": "/api/products", "body": map[string]any{"name": "a", "price": 1}}}},
				status: 400, code: "malformed_request", fields: map[string]string{"atomic": "unknown_parameter"}},
			{name: "WriteWithABadQueryString", method: "POST", path: "/api/products?a=1;b", body: map[string]any{"name": "a", "price": 1},
				status: 400, code: "malformed_request"},
			{name: "ActionWithAParameter", method: "POST", path: "/api/orders/" + orderID + "/cancel?reason=late",
				status: 400, code: "malformed_request", fields: map[string]string{"reason": "unknown_parameter"}},
		}
		before := b.count("products")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := b.do(tc.method, tc.path, tc.body, tc.headers...)
				require.Equal(t, tc.status, res.status, string(res.raw))
				require.Equal(t, tc.code, res.body["error"], string(res.raw))
				if tc.fields != nil {
					require.Equal(t, tc.fields, fieldCodes(res.body))
				}
				require.NotContains(t, string(res.raw), "sql")
				require.NotContains(t, string(res.raw), "SQLITE")
			})
		}
		require.Equal(t, before, b.count("products"), "no bad request may write")
		require.Equal(t, http.StatusOK, b.do("GET", "/api/tags/"+tagID, nil).status, "the refused delete deleted nothing")
		require.Equal(t, "pending", b.do("GET", "/api/orders/"+orderID, nil).body["status"], "the refused action ran nothing")
		require.Equal(t, "Boot", b.do("GET", "/api/products/"+bootID, nil).body["name"], "the refused patch changed nothing")
		require.Equal(t, "GET, HEAD, POST", b.do("DELETE", "/api/products", nil).header.Get("Allow"))
	})
}

func TestInjectionAttemptsAreRejected(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		b.create("products", map[string]any{"name": "Boot", "price": 10})
		for _, path := range []string{
			"/api/products?sort=name;DROP%20TABLE%20products",
			"/api/products?sort=name%20desc",
			"/api/products?fields=name,(SELECT%201)",
			"/api/products?fields=name%22%2C%22price",
			"/api/products?filter=name%20%3D%3D%20%22x%22%20%7C%7C%201%3D%3D1",
			"/api/products?expand=category;DROP%20TABLE%20products",
			"/api/products?name%3B--=1",
		} {
			res := b.do("GET", path, nil)
			require.Equal(t, http.StatusBadRequest, res.status, path)
		}
		// A quote-laden value is just a value.
		res := b.do("GET", "/api/products?filter="+urlEncode(`name == "x'); DROP TABLE products; --"`), nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Empty(t, res.body["items"])
		res = b.do("GET", "/api/products?name="+urlEncode(`' OR '1'='1`), nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Empty(t, res.body["items"])
		for _, table := range []string{"products", "categories", "tags", "customers", "orders", "order_items", "products_tags"} {
			_, err := b.app.Store.Reader().Count(context.Background(), strings.TrimSuffix(table, "_tags"), nil)
			require.NoError(t, err, table)
		}
		require.Equal(t, int64(1), b.count("products"))
	})
}
