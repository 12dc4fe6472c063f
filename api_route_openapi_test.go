package kiln_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/respcheck"
)

type salesQuery struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	Shop  string    `json:"shop,omitempty"`
}

type salesLine struct {
	Product string   `json:"product"`
	Units   int      `json:"units"`
	Revenue *float64 `json:"revenue"`
}

type salesReport struct {
	Lines   []salesLine       `json:"lines"`
	Notes   map[string]string `json:"notes,omitempty"`
	private int
}

// A Go program's custom routes are in the OpenAPI document: under their method (a pattern
// without one under every method it answers), their wildcards as path parameters, described by
// a kiln.RouteDoc when given — request and response schemas derived from Go types — and the
// document still validates, with a custom route's answer valid against it. They were missing
// from it altogether.
func TestCustomRoutesAreInTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	x := &kiln.Extensions{}
	x.Handle("POST /api/reports/sales", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {
		kiln.WriteJSON(w, http.StatusOK, salesReport{Lines: []salesLine{{Product: "boot", Units: 2}}})
	}, kiln.RouteDoc{Summary: "Sales between two dates", Request: salesQuery{}, Response: salesReport{}})
	x.Handle("GET /api/reports/{shop}/daily/{day...}", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {
		w.WriteHeader(http.StatusNoContent)
	}, kiln.RouteDoc{Status: http.StatusNoContent})
	x.Handle("/api/ping", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {
		w.WriteHeader(http.StatusOK)
	})
	b := setupExt(t, "sqlite", x)
	res := b.do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	doc, err := libopenapi.NewDocument(res.raw)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "%v", verrs)

	paths := res.body["paths"].(map[string]any)
	sales := paths["/api/reports/sales"].(map[string]any)
	require.Equal(t, []string{"post"}, keys(sales))
	post := sales["post"].(map[string]any)
	require.Equal(t, "Sales between two dates", post["summary"])
	require.Equal(t, "postReportsSales", post["operationId"], "stable while the method and path are")
	body := post["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	require.Equal(t, []any{"from", "until"}, body["required"], "omitempty fields are optional")
	require.Equal(t, "date-time", body["properties"].(map[string]any)["from"].(map[string]any)["format"])
	answer := post["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	require.Equal(t, []string{"lines", "notes"}, keys(answer["properties"].(map[string]any)), "exported fields only")
	line := answer["properties"].(map[string]any)["lines"].(map[string]any)["items"].(map[string]any)
	require.Equal(t, []any{"number", "null"}, line["properties"].(map[string]any)["revenue"].(map[string]any)["type"])

	daily := paths["/api/reports/{shop}/daily/{day}"].(map[string]any)["get"].(map[string]any)
	require.Len(t, daily["parameters"], 2)
	require.Equal(t, "getReportsByShopDailyByDay", daily["operationId"])
	require.Contains(t, daily["responses"], "204")
	require.Equal(t, []string{"delete", "get", "patch", "post", "put"}, keys(paths["/api/ping"].(map[string]any)), "a pattern without a method answers each")

	req, _ := http.NewRequest("POST", b.srv.URL+"/api/reports/sales", strings.NewReader(`{"from":"2026-01-01T00:00:00Z","until":"2026-02-01T00:00:00Z"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	vreq, _ := http.NewRequest("POST", "/api/reports/sales", strings.NewReader(`{"from":"2026-01-01T00:00:00Z","until":"2026-02-01T00:00:00Z"}`))
	vreq.Header.Set("Content-Type", "application/json")
	ok, rerrs := v.ValidateHttpResponse(vreq, resp)
	require.True(t, ok, "%s: %v", raw, describeErrs(rerrs))
	checker, err := respcheck.New(res.raw)
	require.NoError(t, err)
	require.NoError(t, checker.Check("POST", "/api/reports/sales", resp.StatusCode, resp.Header, raw), "kiln test's response_schema agrees")
	require.Error(t, checker.Check("POST", "/api/reports/sales", resp.StatusCode, resp.Header, []byte(`{"lines":[{"product":1}]}`)))
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
