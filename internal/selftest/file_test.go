package selftest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// echoServer answers every request with what it received, under "errors" as well so
// wildcard paths have a list to look into.
func echoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "query": r.URL.RawQuery, "auth": r.Header.Get("Authorization"),
			"has_auth": len(r.Header.Values("Authorization")) > 0, "size": len(raw), "body": string(raw),
			"errors": []map[string]string{{"field": "a"}, {"field": "b"}}, "at": "2026-01-02T12:00:00.000000Z"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func runText(t *testing.T, text string) []Result {
	f, err := ParseFile("f.yaml", []byte(text))
	require.NoError(t, err)
	r := &Runner{Env: listEnv{url: echoServer(t).URL}}
	return r.RunFile(context.Background(), f)
}

func TestDefaultsAndBodies(t *testing.T) {
	t.Parallel()
	res := runText(t, `
endpoint: POST /x
defaults:
  request:
    headers: {Authorization: "Bearer {valid_token}"}
    body: {a: 1}
test_cases:
  first_has_its_own_body:
    request: {body: {b: 2}}
    expected:
      status: 200
      response_contains: [{body: '{"b":2}'}, {auth: Bearer tok}]
  inherits_the_defaults_not_the_first_case:
    expected:
      response_contains: [{body: '{"a":1}'}]
  raw:
    request: {raw_body: '{"broken": '}
    expected:
      response_contains: [{body: '{"broken": '}]
  sized:
    request: {body_size: 1000}
    expected:
      response_contains: [{size: 1000}]
  empty_header_removes_it:
    request:
      headers: {Authorization: ""}
    expected:
      response_contains: [{has_auth: false}]
  readable_query:
    request: {method: GET, path: '/x?filter=price >= 10 && name.startsWith("A")&limit=2'}
    expected:
      response_contains:
        - query: filter=price+%3E%3D+10+%26%26+name.startsWith%28%22A%22%29&limit=2
  double_ampersand_before_a_name:
    request: {method: GET, path: '/x?filter=a > 1&&active&limit=2'}
    expected:
      response_contains:
        - query: filter=a+%3E+1%26%26active&limit=2
  any_element:
    expected:
      response_contains: [{errors.*.field: b}, errors.*.field]
  times_compare_by_instant:
    expected:
      response_contains: [{at: "2026-01-02T13:00:00+01:00"}]
`)
	for _, r := range res {
		require.Empty(t, r.Failures, r.Case)
	}
	res = runText(t, `
endpoint: POST /x
test_cases:
  no_element_matches:
    expected:
      response_contains: [{errors.*.field: c}]
`)
	require.Contains(t, strings.Join(res[0].Failures, ""), "expected errors.*.field: c, got [a b]")
	res = runText(t, "endpoint: GET /x\ntest_cases:\n  a:\n    expected:\n      response_contains: [{at: \"2026-01-02T12:00:01Z\"}]\n")
	require.NotEmpty(t, res[0].Failures, "another instant")
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	for text, msg := range map[string]string{
		"endpoint: GET /x\ndefaults: {expected: {status: 200}}\ntest_cases: {a: {}}": "only request and as",
		"endpoint: GET /x\ntest_cases: {a: {request: {body_size: x}}}":               "body_size must be a number",
		"endpoint: GET /x\ntest_cases: {a: {expected: {pages: {every: true}}}}":      "unknown expected.pages key",
	} {
		_, err := ParseFile("f.yaml", []byte(text))
		require.ErrorContains(t, err, msg, text)
	}
}

// FuzzEncodeQuery: any path either fails cleanly or encodes to a query that decodes back to
// the same parameters when encoded again.
func FuzzEncodeQuery(f *testing.F) {
	for _, s := range []string{"/x?filter=a >= 1 && b&limit=2", "/x?a=%zz", "/x?&&=&", "/x", "/x?filter=a&&active"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		once, err := encodeQuery(path)
		if err != nil {
			return
		}
		twice, err := encodeQuery(once)
		if err != nil || twice != once {
			t.Fatalf("encoding %q is not stable: %q then %q (%v)", path, once, twice, err)
		}
	})
}

// A structured database_check reads as JSON the way it was written: keys sorted, no Go map
// syntax, no HTML escapes.
func TestStructuredChecksPrintAsWritten(t *testing.T) {
	t.Parallel()
	chk, err := toCheck(map[string]any{"resource": "products", "where": map[string]any{"name": "A & <B>"}, "count": 1})
	require.NoError(t, err)
	require.Equal(t, `{"count":1,"resource":"products","where":{"name":"A & <B>"}}`, chk.Text)
	require.Equal(t, `{"name":"A & <B>"}`, show(chk.Where))
}
