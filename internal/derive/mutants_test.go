package derive_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/selftest"
	"github.com/kiln-dev/kiln/kilntest"
)

// A mutant is the shop's server with one list parameter broken: the derived suite must
// fail the named cases, each with a failure saying what went wrong.
type mutant struct {
	name  string
	wrap  func(http.Handler) http.Handler
	fails map[string]string // "file/case" → part of one of its failures
}

// ignoring serves list and read requests as if the server did not read param (or, with a
// rewrite, read it wrong).
func ignoring(param string, rewrite func(string) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				q := r.URL.Query()
				if rewrite != nil && q.Has(param) {
					q.Set(param, rewrite(q.Get(param)))
				} else {
					q.Del(param)
				}
				r.URL.RawQuery = q.Encode()
			}
			next.ServeHTTP(w, r)
		})
	}
}

// always serves list and read requests as if they carried param=value.
func always(param, value string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && !strings.Contains(strings.TrimPrefix(r.URL.Path, "/api/"), "/") {
				q := r.URL.Query()
				q.Set(param, value)
				r.URL.RawQuery = q.Encode()
			}
			next.ServeHTTP(w, r)
		})
	}
}

// addingField answers list requests with a field nobody asked for added to every row.
func addingField(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var page map[string]any
		if r.URL.Query().Has("fields") && json.Unmarshal(body, &page) == nil {
			if items, ok := page["items"].([]any); ok {
				for _, it := range items {
					it.(map[string]any)["description"] = "not asked for"
				}
				body, _ = json.Marshal(page)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// shorthandIgnored drops every ?field=value shorthand (parameters that name a field).
func shorthandIgnored(next http.Handler) http.Handler {
	known := map[string]bool{"limit": true, "cursor": true, "page": true, "sort": true, "filter": true, "fields": true, "expand": true, "count": true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for k := range q {
			if !known[k] {
				q.Del(k)
			}
		}
		r.URL.RawQuery = q.Encode()
		next.ServeHTTP(w, r)
	})
}

var mutants = []mutant{
	{name: "FieldsIgnored", wrap: ignoring("fields", nil),
		fails: map[string]string{"products.list.test.yaml/selected_fields": "did not ask for: active"}},
	{name: "FieldAdded", wrap: addingField,
		fails: map[string]string{"products.list.test.yaml/selected_fields": "did not ask for: description"}},
	{name: "ExpandIgnored", wrap: ignoring("expand", nil),
		fails: map[string]string{"products.list.test.yaml/expanded_relations": "category should be an expanded record",
			"orders.list.test.yaml/expanded_relations": "lacks field(s) the request asked for: items"}}, // inverse relations show only expanded
	{name: "SortDescendingIgnored", wrap: ignoring("sort", func(v string) string { return strings.ReplaceAll(v, "-", "") }),
		fails: map[string]string{"products.list.test.yaml/sort_by_price_descending": "order differs from the sort evaluated in memory"}},
	{name: "SortIgnored", wrap: ignoring("sort", nil),
		fails: map[string]string{"products.list.test.yaml/sort_by_price": "order differs from the sort evaluated in memory"}},
	{name: "FilterIgnored", wrap: ignoring("filter", nil),
		fails: map[string]string{"products.list.test.yaml/filter_on_price": "the query does not select"}},
	{name: "ShorthandIgnored", wrap: shorthandIgnored,
		fails: map[string]string{"orders.list.test.yaml/shorthand_status": "the query does not select"}},
	{name: "CountIgnored", wrap: ignoring("count", nil),
		fails: map[string]string{"products.list.test.yaml/all_pages": "count=true was sent but the first page has no total"}},
	{name: "CountAlways", wrap: always("count", "true"),
		fails: map[string]string{"products.list.test.yaml/all_pages_by_number": "that count=true did not ask for",
			"products.list.test.yaml/all_pages": ""}}, // asked for: no failure
	{name: "LimitIgnored", wrap: ignoring("limit", nil),
		fails: map[string]string{"products.list.test.yaml/all_pages": "limit=2 asks for 2 per page"}},
	{name: "PageIgnored", wrap: ignoring("page", nil),
		fails: map[string]string{"products.list.test.yaml/all_pages_by_number": "the page parameter did not move on"}},
	{name: "CursorIgnored", wrap: ignoring("cursor", nil),
		fails: map[string]string{"products.list.test.yaml/all_pages": "the cursor parameter did not move on"}},
}

// Each mutant fails the derived suite where its parameter is checked; the server as it is
// passes the same files.
func TestDerivedSuiteFailsServersThatMisreadListParameters(t *testing.T) {
	t.Setenv("KILN_DATABASE_URL", "")
	b := kilntest.New(t, "../../examples/shop/kiln.yaml")
	suite, err := derive.Generate(b.App.Spec)
	require.NoError(t, err)
	files := []string{"products.list.test.yaml", "orders.list.test.yaml"}
	t.Run("Unchanged", func(t *testing.T) {
		for key, res := range runDerived(t, b.App, b.App.Handler(), suite, files) {
			require.True(t, res.Passed, "%s: %v", key, res.Failures)
		}
	})
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			results := runDerived(t, b.App, m.wrap(b.App.Handler()), suite, files)
			for key, want := range m.fails {
				res, ok := results[key]
				require.True(t, ok, "no case %s", key)
				if want == "" {
					require.True(t, res.Passed, "%s: %v", key, res.Failures)
					continue
				}
				require.False(t, res.Passed, "%s passed against a server that %s", key, m.name)
				require.Contains(t, strings.Join(res.Failures, "\n"), want, key)
			}
		})
	}
}

// runDerived runs the named derived files against handler and returns "file/case" → result.
func runDerived(t *testing.T, app *kiln.App, handler http.Handler, suite *derive.Suite, names []string) map[string]selftest.Result {
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	runner := &selftest.Runner{Env: app.NewTestEnv(srv.URL)}
	out := map[string]selftest.Result{}
	for _, file := range suite.Files {
		if !contains(names, file.Name) {
			continue
		}
		f, err := selftest.ParseFile(file.Name, file.Data)
		require.NoError(t, err)
		for _, res := range runner.RunFile(context.Background(), f) {
			out[file.Name+"/"+res.Case] = res
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
