package respcheck_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/openapi"
	"github.com/kiln-dev/kiln/internal/respcheck"
	"github.com/kiln-dev/kiln/internal/selftest"
	"github.com/kiln-dev/kiln/kilntest"
)

// exchange is one response `kiln test` checked with response_schema: true.
type exchange struct {
	method, target, path string // target keeps the query
	reqHeader, header    http.Header
	status               int
	body                 []byte
}

// recordingEnv is the app's TestEnv that keeps every response it checks the schema of.
type recordingEnv struct {
	*kiln.TestEnv
	mu  sync.Mutex
	got []exchange
}

func (e *recordingEnv) CheckSchema(req *http.Request, status int, header http.Header, body []byte) error {
	e.mu.Lock()
	e.got = append(e.got, exchange{method: req.Method, target: req.URL.RequestURI(), path: req.URL.Path,
		reqHeader: req.Header.Clone(), header: header.Clone(), status: status, body: bytes.Clone(body)})
	e.mu.Unlock()
	return e.TestEnv.CheckSchema(req, status, header, body)
}

// liveExchanges runs the spec's derived conformance suite (and its YAML tests, if any)
// against a fresh backend and returns every response checked against the schema.
func liveExchanges(t *testing.T, specPath string, testDirs ...string) (*kiln.App, []exchange) {
	t.Helper()
	b := kilntest.New(t, specPath)
	env := &recordingEnv{TestEnv: b.Env()}
	suite, err := derive.Generate(b.App.Spec)
	require.NoError(t, err)
	var files []*selftest.File
	for _, file := range suite.Files {
		f, err := selftest.ParseFile(file.Name, file.Data)
		require.NoError(t, err)
		files = append(files, f)
	}
	var paths []string
	if len(testDirs) > 0 {
		paths, err = selftest.FindFiles(testDirs)
		require.NoError(t, err)
	}
	for _, p := range paths {
		f, err := selftest.LoadFile(p)
		require.NoError(t, err)
		files = append(files, f)
	}
	runner := &selftest.Runner{Env: env}
	for _, f := range files {
		for _, res := range runner.RunFile(context.Background(), f) {
			for _, msg := range res.Failures {
				t.Logf("%s %s: %s", f.Path, res.Case, msg)
			}
		}
	}
	probe(t, b, env)
	require.Greater(t, len(env.got), 50, "the suite and the probes check the schema of many responses")
	return b.App, env.got
}

// probe sends what the suite does not: each list with every relation expanded and a count,
// its first record expanded, an unknown id and an empty create.
func probe(t *testing.T, b *kilntest.Backend, env *recordingEnv) {
	t.Helper()
	token, _ := env.Token(context.Background(), env.DefaultRole()) // none without auth
	send := func(method, target, body string) []byte {
		req, err := http.NewRequest(method, b.URL+target, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		_ = env.CheckSchema(req, resp.StatusCode, resp.Header, raw)
		return raw
	}
	for _, r := range b.App.Spec.Resources {
		var rels []string
		for _, f := range r.Fields {
			if f.Relation != nil && !f.Hidden {
				rels = append(rels, f.Name)
			}
		}
		base := b.App.Spec.Server.BasePath + "/" + r.Name
		expand := "expand=" + strings.Join(rels, ",")
		var list struct{ Items []struct{ ID string } }
		_ = json.Unmarshal(send("GET", base+"?limit=5&count=true&"+expand, ""), &list)
		if len(list.Items) > 0 {
			send("GET", base+"/"+list.Items[0].ID+"?"+expand, "")
		}
		send("GET", base+"/0192f0a0-0000-7000-8000-000000000000", "")
		send("POST", base, "{}")
	}
}

// verdicts checks every exchange with the old validator (libopenapi-validator) and the new
// check on the same document and requires the same verdict; it returns how many failed.
func verdicts(t *testing.T, doc []byte, exchanges []exchange) int {
	t.Helper()
	d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{
		IgnorePolymorphicCircularReferences: true, IgnoreArrayCircularReferences: true})
	require.NoError(t, err)
	old, errs := validator.NewValidator(d)
	require.Empty(t, errs)
	c, err := respcheck.New(doc)
	require.NoError(t, err)
	failed := 0
	for _, ex := range exchanges {
		vreq, _ := http.NewRequest(ex.method, ex.target, nil)
		vreq.Header = ex.reqHeader
		resp := &http.Response{StatusCode: ex.status, Header: ex.header, Body: io.NopCloser(bytes.NewReader(ex.body)), Request: vreq}
		oldOK, verrs := old.ValidateHttpResponse(vreq, resp)
		newErr := c.Check(ex.method, ex.path, ex.status, ex.header, ex.body)
		require.Equal(t, oldOK, newErr == nil, "%s %s → %d %s\n  old: %v\n  new: %v",
			ex.method, ex.target, ex.status, ex.body, verrs, newErr)
		if newErr != nil {
			failed++
		}
	}
	return failed
}

// The new check and libopenapi-validator agree on every response the derived suites of two
// specs produce, and on the same responses broken in the ways a schema must catch. (It ran in
// the root package, under the race detector, where it took 50 s of CPU for a check that runs
// in one goroutine; here it runs in the plain test step.)
func TestResponseCheckAgreesWithLibopenapiValidator(t *testing.T) {
	t.Parallel()
	specs := []struct{ name, path, tests string }{
		{name: "Shop", path: "../../examples/shop/kiln.yaml", tests: "../../examples/shop/tests"},
		{name: "Library", path: "../../examples/library/kiln.yaml"},
	}
	for _, sp := range specs {
		t.Run(sp.name, func(t *testing.T) {
			t.Parallel()
			var dirs []string
			if sp.tests != "" {
				dirs = append(dirs, sp.tests)
			}
			app, live := liveExchanges(t, sp.path, dirs...)
			doc, err := openapi.Generate(app.Spec)
			require.NoError(t, err)
			require.Zero(t, verdicts(t, doc, live), "real responses conform")

			removed, retyped := mutateBodies(live, drop), mutateBodies(live, retype)
			require.Equal(t, len(removed), verdicts(t, doc, removed), "a required field removed fails")
			require.Equal(t, len(retyped), verdicts(t, doc, retyped), "a field of the wrong type fails")
			strict := strictDocument(t, doc)
			verdicts(t, strict, live)
			extra := mutateBodies(live, addField)
			require.Positive(t, verdicts(t, strict, extra), "an extra field fails where additionalProperties is false")
			teapots := withStatus(live, http.StatusTeapot)
			require.Equal(t, len(teapots), verdicts(t, noDefaults(t, doc), teapots), "an undeclared status fails")
			verdicts(t, doc, teapots) // declared as default: agree either way
			t.Logf("%d responses, %d with a required field removed, %d retyped, %d with an extra field", len(live), len(removed), len(retyped), len(extra))
		})
	}
}

// mutateBodies applies change to each JSON object body that carries one of the fields every
// response schema requires (a record's id, a list's items, a problem's error).
func mutateBodies(exs []exchange, change func(map[string]any, string)) []exchange {
	var out []exchange
	for _, ex := range exs {
		var body map[string]any
		if json.Unmarshal(ex.body, &body) != nil || body == nil {
			continue
		}
		i := slices.IndexFunc([]string{"id", "items", "error"}, func(k string) bool { _, ok := body[k]; return ok })
		if i < 0 {
			continue
		}
		change(body, []string{"id", "items", "error"}[i])
		ex.body, _ = json.Marshal(body)
		out = append(out, ex)
	}
	return out
}

func drop(body map[string]any, key string)   { delete(body, key) }
func retype(body map[string]any, key string) { body[key] = true }
func addField(body map[string]any, _ string) { body["zz_not_declared"] = 1 }

func withStatus(exs []exchange, status int) []exchange {
	out := slices.Clone(exs)
	for i := range out {
		out[i].status = status
	}
	return out
}

// strictDocument sets additionalProperties: false on every component schema with properties.
func strictDocument(t *testing.T, doc []byte) []byte {
	return editDocument(t, doc, func(d map[string]any) {
		for _, s := range d["components"].(map[string]any)["schemas"].(map[string]any) {
			s := s.(map[string]any)
			if _, has := s["additionalProperties"]; !has && s["properties"] != nil {
				s["additionalProperties"] = false
			}
		}
	})
}

// noDefaults removes the default response of every operation.
func noDefaults(t *testing.T, doc []byte) []byte {
	return editDocument(t, doc, func(d map[string]any) {
		for _, item := range d["paths"].(map[string]any) {
			for _, op := range item.(map[string]any) {
				if op, ok := op.(map[string]any); ok {
					if rs, ok := op["responses"].(map[string]any); ok {
						delete(rs, "default")
					}
				}
			}
		}
	})
}

func editDocument(t *testing.T, doc []byte, edit func(map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var d map[string]any
	require.NoError(t, dec.Decode(&d))
	edit(d)
	out, err := json.Marshal(d)
	require.NoError(t, err)
	return out
}

// A response that breaks its schema fails `kiln test`: a server answering a product with a
// string price, checked by the app's own TestEnv.
func TestResponseSchemaFailsAResponseThatBreaksIt(t *testing.T) {
	t.Parallel()
	b := kilntest.New(t, "../../examples/shop/kiln.yaml")
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "0192f0a0-0000-7000-8000-000000000000", "created_at": "2026-12-03T19:00:00Z",
			"updated_at": "2026-12-03T19:00:00Z", "name": "Boot", "price": "cheap"}`)
	}))
	t.Cleanup(fake.Close)
	f, err := selftest.ParseFile("broken.yaml", []byte(`
endpoint: GET /api/products/0192f0a0-0000-7000-8000-000000000000
test_cases:
  read:
    expected:
      status: 200
      response_schema: true
`))
	require.NoError(t, err)
	runner := &selftest.Runner{Env: fakeURLEnv{TestEnv: b.Env(), url: fake.URL}}
	res := runner.RunFile(context.Background(), f)
	require.Len(t, res, 1)
	require.False(t, res[0].Passed)
	require.Equal(t, []string{"response_schema: GET /api/products/{id} → 200: body /price: want number, got string " +
		"(at #/components/schemas/Products/properties/price/type)"}, res[0].Failures)
}

// fakeURLEnv sends the requests to another server than the app's.
type fakeURLEnv struct {
	*kiln.TestEnv
	url string
}

func (e fakeURLEnv) URL() string { return e.url }

// An optional enum field that is not set is null in every answer: its own schema accepts it,
// on read and on write (null clears it), and still refuses a value outside the enum.
func TestOptionalEnumIsNullableInItsSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`name: tickets
resources:
  tickets:
    access: {list: public, view: public, create: public, update: public, delete: public}
    fields:
      title: {type: string, required: true}
      resolution: {type: enum, values: [fixed, wontfix]}
`), 0o600))
	b := kilntest.New(t, path)
	f, err := selftest.ParseFile("tickets.yaml", []byte(`
endpoint: POST /api/tickets
test_cases:
  unset:
    request: {headers: {Content-Type: application/json}, body: {title: a}}
    expected: {status: 201, response_schema: true, response_contains: [{resolution: null}]}
  cleared:
    request: {headers: {Content-Type: application/json}, body: {title: b, resolution: null}}
    expected: {status: 201, response_schema: true}
  set:
    request: {headers: {Content-Type: application/json}, body: {title: c, resolution: fixed}}
    expected: {status: 201, response_schema: true, response_contains: [{resolution: fixed}]}
`))
	require.NoError(t, err)
	for _, r := range (&selftest.Runner{Env: b.Env()}).RunFile(context.Background(), f) {
		require.True(t, r.Passed, "%s: %v", r.Case, r.Failures)
	}
	doc, err := openapi.Generate(b.App.Spec)
	require.NoError(t, err)
	var d struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(doc, &d))
	require.Equal(t, []any{"fixed", "wontfix", nil}, d.Components.Schemas["Tickets"].Properties["resolution"]["enum"])
}
