package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
)

func op(method, path string, body any) map[string]any {
	out := map[string]any{"method": method, "path": path}
	if body != nil {
		out["body"] = body
	}
	return out
}

// A batch writes everything or nothing; later operations refer to earlier results.
func TestBatchIsAtomicAndRefersToEarlierResults(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		cat := b.create("categories", map[string]any{"name": "Batch", "slug": "batch"})
		res := b.do("POST", "/api/batch", map[string]any{"operations": []any{
			op("POST", "/api/tags", map[string]any{"name": "batched"}),
			op("POST", "/api/products", map[string]any{"name": "Kettle", "price": 20, "category": cat, "tags": []any{map[string]any{"$ref": "0.id"}}}),
			op("PATCH", "/api/products/{1.id}", map[string]any{"stock": 4}),
			op("PATCH", "/api/products/{1.id}", map[string]any{"price": -1}),
		}})
		require.Equal(t, http.StatusBadRequest, res.status, "the last operation fails, so nothing is written: %s", res.raw)
		require.Contains(t, res.body["detail"], "operation 3")
		require.Equal(t, map[string]string{"operations[3].body.price": "min"}, fieldCodes(res.body))
		require.EqualValues(t, 0, b.countWhere("tags", "name", "batched"))
		require.EqualValues(t, 0, b.countWhere("products", "name", "Kettle"))

		res = b.do("POST", "/api/batch", map[string]any{"operations": []any{
			op("POST", "/api/tags", map[string]any{"name": "batched"}),
			op("POST", "/api/products", map[string]any{"name": "Kettle", "price": 20, "category": cat, "tags": []any{map[string]any{"$ref": "0.id"}}}),
			op("PATCH", "/api/products/{1.id}", map[string]any{"stock": 4}),
			op("POST", "/api/tags", map[string]any{"name": "doomed"}),
			op("DELETE", "/api/tags/{3.id}", nil),
		}})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		results := res.body["results"].([]any)
		require.Len(t, results, 5)
		require.Equal(t, json.Number("204"), results[4].(map[string]any)["status"])
		require.EqualValues(t, 0, b.countWhere("tags", "name", "doomed"))
		tag := results[0].(map[string]any)["record"].(map[string]any)["id"]
		prod := results[2].(map[string]any)["record"].(map[string]any)
		require.Equal(t, json.Number("200"), results[2].(map[string]any)["status"])
		require.Equal(t, json.Number("4"), prod["stock"])
		require.Equal(t, []any{tag}, prod["tags"])
	})
}

// Each operation is validated and authorized as if it came alone; errors name the operation.
func TestBatchErrorsNameTheOperation(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		tok := bearer(b.token("customer"))
		bad := b.do("POST", "/api/batch", map[string]any{"operations": []any{
			op("POST", "/api/tags", map[string]any{"name": "ok"}),
			op("POST", "/api/tags", map[string]any{"name": ""}),
		}})
		require.Equal(t, http.StatusBadRequest, bad.status)
		require.Equal(t, map[string]string{"operations[1].body.name": "min_length"}, fieldCodes(bad.body))
		require.EqualValues(t, 0, b.countWhere("tags", "name", "ok"))

		forbidden := b.do("POST", "/api/batch", map[string]any{"operations": []any{op("POST", "/api/tags", map[string]any{"name": "x"})}}, tok...)
		require.Equal(t, http.StatusForbidden, forbidden.status, "customers may not create tags, in a batch or not")

		shape := b.do("POST", "/api/batch", map[string]any{"operations": []any{op("GET", "api/tags", nil)}, "extra": 1})
		require.Equal(t, http.StatusBadRequest, shape.status)
		require.Equal(t, map[string]string{"extra": "unknown_field", "operations[0].method": "enum", "operations[0].path": "format"}, fieldCodes(shape.body))

		for body, code := range map[string]string{`{"operations":5}`: "type", `{"operations":{"method":"GET"}}`: "type",
			`{"operations":null}`: "required", `{}`: "required"} {
			res := b.do("POST", "/api/batch", []byte(body), "Content-Type", "application/json")
			require.Equal(t, http.StatusBadRequest, res.status, body)
			require.Equal(t, map[string]string{"operations": code}, fieldCodes(res.body), "%s: %s", body, res.raw)
		}

		ops := make([]any, 51)
		for i := range ops {
			ops[i] = op("POST", "/api/tags", map[string]any{"name": "n"})
		}
		tooMany := b.do("POST", "/api/batch", map[string]any{"operations": ops})
		require.Equal(t, map[string]string{"operations": "max_items"}, fieldCodes(tooMany.body), "server.batch_max defaults to 50")

		ref := b.do("POST", "/api/batch", map[string]any{"operations": []any{op("PATCH", "/api/tags/{3.id}", map[string]any{})}})
		require.Equal(t, http.StatusBadRequest, ref.status)
		require.Contains(t, ref.body["detail"], "earlier operation")
		route := b.do("POST", "/api/batch", map[string]any{"operations": []any{op("POST", "/api/nothing", map[string]any{})}})
		require.Equal(t, http.StatusNotFound, route.status)

		empty := b.do("POST", "/api/batch", map[string]any{"operations": []any{}})
		require.Equal(t, http.StatusBadRequest, empty.status)
		require.Equal(t, map[string]string{"operations": "min_items"}, fieldCodes(empty.body), "an empty batch holds too few, not too many")
		// A resource named the wrong way is a malformed operation (400), not a missing one.
		tag := b.create("tags", map[string]any{"name": "shape"})
		for _, o := range []map[string]any{op("POST", "/api/tags/"+tag+"/archive", map[string]any{}), op("POST", "/api/tags/"+tag, map[string]any{}),
			op("PATCH", "/api/tags", map[string]any{}), op("POST", "/api/batch", map[string]any{"operations": []any{}})} {
			res := b.do("POST", "/api/batch", map[string]any{"operations": []any{o}})
			require.Equal(t, http.StatusBadRequest, res.status, "%v: %s", o, res.raw)
			require.Equal(t, "validation_failed", res.body["error"], "%v", o)
			require.Contains(t, res.body["detail"], "operation 0: "+o["method"].(string)+" "+o["path"].(string), "%v", o)
		}
	})
}

// countWhere counts the records of resource whose text field equals value.
func (b *testBundle) countWhere(resource, field, value string) int64 {
	b.t.Helper()
	n, err := b.app.Store.Reader().Count(context.Background(), resource, query.Compare{Field: field, Op: query.Eq, Value: value})
	require.NoError(b.t, err)
	return n
}

// A batch costs a request of the rate limit per operation: 50 creates in one request spend
// 50 of the account's budget.
func TestBatchSpendsTheRateLimitPerOperation(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	ops := make([]any, 50)
	for i := range ops {
		ops[i] = op("POST", "/api/tags", map[string]any{"name": fmt.Sprintf("t%d", i)})
	}
	res := b.do("POST", "/api/batch", map[string]any{"operations": ops})
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, "550", rateLimitParam(t, res.header, "r"), "600/min less the 50 operations")
}

// A batch sent again with its Idempotency-Key is answered from the store, not run twice.
func TestBatchWithAnIdempotencyKeyRunsOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		body := map[string]any{"operations": []any{op("POST", "/api/tags", map[string]any{"name": "once"})}}
		first := b.do("POST", "/api/batch", body, "Idempotency-Key", "batch-1")
		require.Equal(t, http.StatusOK, first.status, string(first.raw))
		again := b.do("POST", "/api/batch", body, "Idempotency-Key", "batch-1")
		require.Equal(t, http.StatusOK, again.status)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.raw), string(again.raw))
		require.EqualValues(t, 1, b.countWhere("tags", "name", "once"))
	})
}
