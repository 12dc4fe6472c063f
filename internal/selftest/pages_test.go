package selftest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// listEnv is a backend whose in-memory answer is rows; the HTTP side is a test server.
type listEnv struct {
	Env
	url  string
	rows []string
}

func (e listEnv) URL() string                                            { return e.url }
func (e listEnv) DefaultRole() string                                    { return "admin" }
func (e listEnv) Token(context.Context, string) (string, error)          { return "tok", nil }
func (e listEnv) Rows(context.Context, string, string) ([]string, error) { return e.rows, nil }
func (e listEnv) ResourceOfPath(string) (string, bool)                   { return "things", true }
func (e listEnv) Shape(string) ([]FieldShape, error)                     { return nil, nil }

// row is a listed record with nothing but its system fields.
func row(id string) map[string]string {
	return map[string]string{"id": id, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
}

// pagedServer serves pages of ids two at a time, as the pages map says: cursor → page.
func pagedServer(t *testing.T, pages map[string][]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := r.URL.Query().Get("cursor")
		items := []map[string]string{}
		for _, id := range pages[cur] {
			items = append(items, row(id))
		}
		var next any // cursors are "", "c", "cc", ...
		if after := cur + "c"; pages[after] != nil {
			next = after
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "next_cursor": next})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func runPages(t *testing.T, pages map[string][]string, rows []string, inMemory bool) []string {
	srv := pagedServer(t, pages)
	f, err := ParseFile("list.yaml", []byte(fmt.Sprintf(`
endpoint: GET /api/things?limit=2&filter=price >= 1
test_cases:
  all:
    expected:
      status: 200
      pages: {each_row_once: true, match_in_memory: %v}
`, inMemory)))
	require.NoError(t, err)
	r := &Runner{Env: listEnv{url: srv.URL, rows: rows}}
	res := r.RunFile(context.Background(), f)
	require.Len(t, res, 1)
	return res[0].Failures
}

func TestPagesVisitEveryRowOnce(t *testing.T) {
	t.Parallel()
	good := map[string][]string{"": {"a", "b"}, "c": {"c", "d"}, "cc": {"e"}}
	require.Empty(t, runPages(t, good, []string{"a", "b", "c", "d", "e"}, true))

	dup := map[string][]string{"": {"a", "b"}, "c": {"b", "c"}}
	require.Contains(t, strings.Join(runPages(t, dup, []string{"a", "b", "c"}, false), "\n"), "row b was listed twice")

	skip := map[string][]string{"": {"a", "b"}, "c": {"d"}}
	require.Contains(t, strings.Join(runPages(t, skip, []string{"a", "b", "c", "d"}, false), "\n"), "never listed: c")

	extra := map[string][]string{"": {"a", "b"}}
	require.Contains(t, strings.Join(runPages(t, extra, []string{"a"}, false), "\n"), "does not select: b")

	order := map[string][]string{"": {"b", "a"}}
	require.Empty(t, runPages(t, order, []string{"a", "b"}, false), "each_row_once alone ignores order")
	require.Contains(t, strings.Join(runPages(t, order, []string{"a", "b"}, true), "\n"), "order differs from the sort evaluated in memory at row 1")
}

func TestPagesCompareTheTotal(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"items": []any{row("a"), row("b")}, "next_cursor": nil, "total": 3})
	}))
	t.Cleanup(srv.Close)
	f, err := ParseFile("list.yaml", []byte("endpoint: GET /x?count=true\ntest_cases:\n  all:\n    expected: {pages: {each_row_once: true}}\n"))
	require.NoError(t, err)
	res := (&Runner{Env: listEnv{url: srv.URL, rows: []string{"a", "b"}}}).RunFile(context.Background(), f)
	require.Equal(t, []string{"pages: total says 3, the query selects 2"}, res[0].Failures)
}

func TestPagesByNumber(t *testing.T) {
	t.Parallel()
	rows := []string{"a", "b", "c", "d", "e"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		_, _ = fmt.Sscan(r.URL.Query().Get("page"), &n)
		items := []map[string]string{}
		for i := (n - 1) * 2; i >= 0 && i < len(rows) && i < n*2; i++ {
			items = append(items, row(rows[i]))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "next_cursor": nil})
	}))
	t.Cleanup(srv.Close)
	f, err := ParseFile("list.yaml", []byte("endpoint: GET /x?page=1&limit=2\ntest_cases:\n  all:\n    expected: {pages: {each_row_once: true, match_in_memory: true}}\n"))
	require.NoError(t, err)
	res := (&Runner{Env: listEnv{url: srv.URL, rows: rows}}).RunFile(context.Background(), f)
	require.Empty(t, res[0].Failures)
	res = (&Runner{Env: listEnv{url: srv.URL, rows: append(rows, "f")}}).RunFile(context.Background(), f)
	require.Contains(t, strings.Join(res[0].Failures, ""), "never listed: f")
}

// max_response_time is held to the runner's clock, which a test controls: no wall clock, no
// race with a busy machine.
func TestMaxResponseTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	f, err := ParseFile("t.yaml", []byte(`endpoint: GET /x
test_cases:
  fast_enough: {expected: {status: 204, max_response_time: 150ms}}
  too_slow: {expected: {status: 204, max_response_time: 149ms}}
  not_a_duration: {expected: {status: 204, max_response_time: soon}}
`))
	require.NoError(t, err)
	clock := time.Unix(1_800_000_000, 0)
	tick := func() time.Time { clock = clock.Add(150 * time.Millisecond); return clock } // a request takes one tick
	res := (&Runner{Env: listEnv{url: srv.URL}, Now: tick}).RunFile(context.Background(), f)
	require.Len(t, res, 3)
	require.Empty(t, res[0].Failures)
	require.Equal(t, 150*time.Millisecond, res[0].Duration)
	require.Equal(t, []string{"response time: expected at most 149ms, took 150ms"}, res[1].Failures)
	require.Equal(t, []string{`max_response_time "soon" is not a duration such as 200ms`}, res[2].Failures)
}
