package kiln_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// documentedStatuses lists the answers the served document gives an operation.
func documentedStatuses(t *testing.T, b *testBundle, path, method string) map[string]any {
	t.Helper()
	doc := b.do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, doc.status)
	op := doc.body["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
	return op["responses"].(map[string]any)
}

// The statuses a route answers are in the document, not only under default: sign-up's 409
// for a taken email and the item GET's 400 for bad fields or expand.
func TestOpenAPIListsTheStatusesRoutesAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	signup := map[string]any{"email": "taken@example.com", "password": "long enough 1"}
	require.Equal(t, http.StatusCreated, b.anon("POST", "/api/auth/signup", signup).status)
	res := b.anon("POST", "/api/auth/signup", signup)
	require.Equal(t, http.StatusConflict, res.status, string(res.raw))
	require.Contains(t, documentedStatuses(t, b, "/api/auth/signup", "post"), strconv.Itoa(res.status))

	prod := b.product("Boot", "19.99", 10)
	item := documentedStatuses(t, b, "/api/products/{id}", "get")
	for _, query := range []string{"fields=bogus", "expand=bogus", "expand=category.bogus", "limit=5"} {
		res := b.do("GET", "/api/products/"+prod+"?"+query, nil)
		require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", query, res.raw)
		require.Contains(t, item, "400", query)
	}
}

// A fresh server's job figures list no kinds as [], not null, as the document says (an
// array, never null).
func TestJobStatsKindsIsAnEmptyArrayOnAFreshServer(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	res := b.do("GET", "/api/admin/jobs/stats", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, []any{}, res.body["kinds"], string(res.raw))
	require.Contains(t, res.body, "staged")
	doc := b.do("GET", "/api/openapi.json", nil)
	stats := doc.body["paths"].(map[string]any)["/api/admin/jobs/stats"].(map[string]any)["get"].(map[string]any)
	schema := stats["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	require.Equal(t, "array", schema["properties"].(map[string]any)["kinds"].(map[string]any)["type"])
}
