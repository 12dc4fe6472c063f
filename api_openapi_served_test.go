package kiln_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-dev/kiln"
)

// notInTheDocument are the served routes the OpenAPI document leaves out on purpose: the
// HTML docs page and its assets are for browsers, not part of the API.
var notInTheDocument = []string{"GET /docs", "GET /docs/"}

// documentMethods are the operations an OpenAPI path item may hold.
var documentMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// servedOperations are the operations the server answers, as "METHOD /path" with the
// document's path syntax: a pattern without a method answers each method the document lists
// for such a route (openapi.routePaths), {rest...} is {rest}, a trailing {$} goes.
func servedOperations(t *testing.T, patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if slices.Contains(notInTheDocument, p) {
			continue
		}
		method, path, found := strings.Cut(p, " ")
		if !found || strings.Contains(method, "/") {
			method, path = "", p
		}
		if i := strings.Index(path, "/"); i > 0 {
			path = path[i:] // a host before the path
		}
		path = strings.ReplaceAll(strings.TrimSuffix(strings.TrimSpace(path), "{$}"), "...}", "}")
		methods := []string{method}
		if method == "" {
			methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
		}
		for _, m := range methods {
			out = append(out, m+" "+path)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// documentedOperations are the document's operations as "METHOD /path"; it fails the test on
// an operation without an operationId or with one another operation has.
func documentedOperations(t *testing.T, body map[string]any) []string {
	var out []string
	ids := map[string]string{}
	for path, item := range body["paths"].(map[string]any) {
		for _, m := range documentMethods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			name := strings.ToUpper(m) + " " + path
			out = append(out, name)
			id, _ := op["operationId"].(string)
			require.NotEmpty(t, id, "%s has no operationId", name)
			require.NotContains(t, ids, id, "%s and %s share the operationId %s", name, ids[id], id)
			ids[id] = name
		}
	}
	return out
}

// requireDocumentsServed holds the OpenAPI document b serves to the routes its server
// registered: each one served is documented under its method, and each one documented is
// served — so a route added to the server without its documentation (as the auth, admin,
// file and webhook routes once were) fails here, and so does one documented for a spec
// that does not enable it. The document is valid OpenAPI 3.1 as well.
func requireDocumentsServed(t *testing.T, b *testBundle) map[string]any {
	t.Helper()
	res := b.do("GET", "/api/openapi.json", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	doc, err := libopenapi.NewDocument(res.raw)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "%v", verrs)

	served := servedOperations(t, kiln.ServedRoutes(b.app))
	documented := documentedOperations(t, res.body)
	var undocumented, unserved []string
	for _, op := range served {
		if !slices.Contains(documented, op) {
			undocumented = append(undocumented, op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			unserved = append(unserved, op)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unserved)
	require.Empty(t, undocumented, "served, not in the OpenAPI document")
	require.Empty(t, unserved, "in the OpenAPI document, not served")
	return res.body["paths"].(map[string]any)
}

// The OpenAPI document lists exactly the routes the server serves, for specs that enable
// different parts of Kiln: the shop (auth, webhooks, files, payments, actions, a Go program's
// routes), a spec with OpenID Connect providers and soft deletes, and one without auth,
// webhooks or files, whose document has none of their routes.
func TestOpenAPIDocumentsEveryServedRoute(t *testing.T) {
	t.Parallel()
	t.Run("Shop", func(t *testing.T) {
		t.Parallel()
		x := &kiln.Extensions{}
		x.Handle("GET /api/reports/{shop}/daily/{day...}", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {})
		x.Handle("/api/ping", func(w http.ResponseWriter, r *http.Request, _ kiln.RouteCall) {})
		paths := requireDocumentsServed(t, setupExt(t, "sqlite", x))
		for _, p := range []string{"/api/auth/keys", "/api/auth/password/reset", "/api/admin/jobs/{id}/retry",
			"/api/admin/webhooks/{name}/deliveries/{message}/replay", "/api/_files/{resource}/{field}/{file}", "/hooks/payments", "/healthz"} {
			require.Contains(t, paths, p)
		}
	})
	t.Run("ProvidersAndSoftDelete", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"KILN_PUBLIC_URL": "http://127.0.0.1:1", "OP_ISSUER": "http://127.0.0.1:2", "OP_SECRET": "s"}
		b := setupEnv(t, "sqlite", providersSpec, nil, env)
		paths := requireDocumentsServed(t, b)
		require.Contains(t, paths, "/api/auth/oauth/{provider}/callback")
		newDocumentChecks(t, b).send(t, b, exchange{method: "GET", path: "/api/auth/oauth/other/start", status: 404})
		require.Contains(t, paths, "/api/notes/{id}/restore")
		require.Contains(t, paths, "/api/admin/webhooks")
	})
	t.Run("RecordActions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sqlite", actionsSpec)
		paths := requireDocumentsServed(t, b)
		requireActionDocumented(t, b, paths)
	})
	t.Run("NoAuthNoWebhooksNoFiles", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sqlite", bareSpec)
		paths := requireDocumentsServed(t, b)
		newDocumentChecks(t, b).send(t, b, exchange{method: "GET", path: "/api/admin/jobs", status: 403})
		for p := range paths {
			require.False(t, strings.HasPrefix(p, "/api/auth/") || strings.HasPrefix(p, "/api/admin/webhooks") ||
				strings.HasPrefix(p, "/api/_files"), "%s is not served for this spec", p)
		}
		require.Contains(t, paths, "/api/admin/jobs", "the queue always runs")
	})
}

const providersSpec = `name: sso
roles: [admin, member]
auth:
  account: users
  public_url: ${KILN_PUBLIC_URL}
  providers:
    corp:
      issuer: ${OP_ISSUER}
      client_id: kiln
      client_secret: ${OP_SECRET}
webhooks: []
resources:
  users:
    fields:
      name: string
    access:
      view: "record.id == auth.id"
  notes:
    soft_delete: true
    fields:
      title: string
      done: {type: boolean, default: false}
    actions:
      finish:
        access: public
        steps:
          - set: {done: "true"}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// requireActionDocumented holds a record action's operation to what the server answers: 403
// for a role its rule refuses, 412 for a stale If-Match, 413 and 415 for a body too large or
// not JSON — they were not listed — and a request body required only when an input field must
// be sent (an action whose input is all optional was required: true, yet ran on no body).
func requireActionDocumented(t *testing.T, b *testBundle, paths map[string]any) {
	t.Helper()
	op := func(name string) map[string]any {
		return paths["/api/notes/{id}/"+name].(map[string]any)["post"].(map[string]any)
	}
	for _, code := range []string{"200", "400", "401", "403", "404", "409", "412", "413", "415", "422", "default"} {
		require.Contains(t, op("finish")["responses"], code, "finish")
	}
	require.NotContains(t, op("rename")["responses"], "403", "a public action refuses no role")
	require.Equal(t, false, op("finish")["requestBody"].(map[string]any)["required"])
	require.Equal(t, true, op("rename")["requestBody"].(map[string]any)["required"])

	c := newDocumentChecks(t, b)
	id := b.create("notes", map[string]any{"title": "a"})
	member := b.token("member")
	for _, ex := range []exchange{
		{method: "POST", path: "/api/notes/" + id + "/finish", token: b.admin, status: 200},
		{method: "POST", path: "/api/notes/" + id + "/finish", body: `{"note":"done"}`, token: b.admin, status: 200},
		{method: "POST", path: "/api/notes/" + id + "/finish", token: member, status: 403},
		{method: "POST", path: "/api/notes/" + id + "/finish", body: `{"note":"` + strings.Repeat("x", 2048) + `"}`, token: b.admin, status: 413},
		{method: "POST", path: "/api/notes/" + id + "/rename", token: member, status: 400},
		{method: "POST", path: "/api/notes/" + id + "/rename", body: `{"title":"b"}`, token: member, status: 200},
	} {
		c.send(t, b, ex)
	}
	res := b.do("POST", "/api/notes/"+id+"/finish", "note=done", "Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, res.status, string(res.raw))
	res = b.do("POST", "/api/notes/"+id+"/finish", nil, "If-Match", `"1"`)
	require.Equal(t, http.StatusPreconditionFailed, res.status, string(res.raw))
}

const actionsSpec = `name: acts
roles: [admin, member]
server: {max_body_bytes: 1024}
auth:
  account: users
resources:
  users:
    fields:
      name: string
    access:
      view: "record.id == auth.id"
  notes:
    fields:
      title: string
      note: string
      done: {type: boolean, default: false}
    actions:
      finish:
        access: "auth.role == 'admin'"
        input:
          note: string
        steps:
          - set: {done: "true"}
      rename:
        access: public
        input:
          title: {type: string, required: true}
        steps:
          - set: {title: "input.title"}
    access: {list: public, view: public, create: public, update: public, delete: public}
`

const bareSpec = `resources:
  notes:
    fields:
      title: string
    access: {list: public, view: public, create: public, update: public, delete: public}
`
