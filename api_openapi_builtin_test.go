package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/files"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/respcheck"
)

// exchange is one request to a built-in route, sent with a bearer token ("" for none).
type exchange struct {
	method, path, body, token string
	status                    int
}

// documentChecks are the two judges of an answer: libopenapi's validator and kiln test's
// response_schema (respcheck), both reading the document the server serves.
type documentChecks struct {
	v       validator.Validator
	checker *respcheck.Checker
}

func newDocumentChecks(t *testing.T, b *testBundle) documentChecks {
	res := b.do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	doc, err := libopenapi.NewDocument(res.raw)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	checker, err := respcheck.New(res.raw)
	require.NoError(t, err)
	return documentChecks{v: v, checker: checker}
}

// send makes ex's request and requires its status, and that the answer conforms to the
// document (and the request too, when the server took it); it returns the answer's body.
func (c documentChecks) send(t *testing.T, b *testBundle, ex exchange) []byte {
	t.Helper()
	req, err := http.NewRequest(ex.method, b.srv.URL+ex.path, strings.NewReader(ex.body))
	require.NoError(t, err)
	if ex.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ex.token != "" {
		req.Header.Set("Authorization", "Bearer "+ex.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, ex.status, resp.StatusCode, "%s %s: %s", ex.method, ex.path, raw)
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	ok, verrs := c.v.ValidateHttpResponse(pathRequest(ex), resp)
	require.True(t, ok, "%s %s -> %d %s: %v", ex.method, ex.path, resp.StatusCode, raw, describeErrs(verrs))
	if ex.status < 300 { // a request the server took is one the document allows
		ok, rerrs := c.v.ValidateHttpRequest(pathRequest(ex))
		require.True(t, ok, "request %s %s: %v", ex.method, ex.path, describeErrs(rerrs))
	}
	path, _, _ := strings.Cut(ex.path, "?")
	require.NoError(t, c.checker.Check(ex.method, path, resp.StatusCode, resp.Header, raw), "kiln test's response_schema agrees")
	return raw
}

// pathRequest is ex's request with a path-only URL: the validator matches paths against
// servers[0].url, which is "/".
func pathRequest(ex exchange) *http.Request {
	req, _ := http.NewRequest(ex.method, ex.path, strings.NewReader(ex.body))
	if ex.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ex.token != "" {
		req.Header.Set("Authorization", "Bearer "+ex.token)
	}
	return req
}

// The answers of Kiln's own routes — account, API key, admin jobs and webhooks, incoming
// webhook, stored file and health routes — conform to the OpenAPI document, successes and
// problems alike, as libopenapi's validator and kiln test's response_schema judge them. They
// were not in the document, so response_schema: true failed on each with "path is not in
// the document".
func TestOpenAPIBuiltinRoutesAnswerAsDocumented(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	c := newDocumentChecks(t, b)
	customer, other := b.token("customer"), b.account("customer")
	for _, ex := range []exchange{
		{method: "GET", path: "/healthz", status: 200},
		{method: "GET", path: "/readyz", status: 200},
		{method: "GET", path: "/api/openapi.json", status: 200},
		{method: "GET", path: "/api/auth/jwks.json", status: 200},
		{method: "POST", path: "/api/auth/password/reset", body: `{"email":"nobody@example.com"}`, status: 202},
		{method: "POST", path: "/api/auth/password/reset/confirm", body: `{"token":"bad","new_password":"long enough 1"}`, status: 401},
		{method: "POST", path: "/api/auth/password/reset/confirm", body: `{"token":""}`, status: 400},
		{method: "POST", path: "/api/auth/verify", token: customer, status: 202},
		{method: "POST", path: "/api/auth/verify/confirm", body: `{"token":"bad"}`, status: 401},
		{method: "POST", path: "/api/auth/invites", body: `{"email":"new@example.com","role":"staff"}`, token: b.admin, status: 202},
		{method: "POST", path: "/api/auth/invites", body: `{"email":"new@example.com","role":"staff"}`, token: customer, status: 403},
		{method: "POST", path: "/api/auth/email", body: `{"current_password":"wrong","new_email":"c@example.com"}`, token: customer, status: 400},
		{method: "POST", path: "/api/auth/password", body: `{"current_password":"wrong","new_password":"long enough 1"}`, token: customer, status: 400},
		{method: "POST", path: "/api/auth/password", body: `{"current_password":"wrong","new_password":"long enough 1"}`, status: 401},
		{method: "POST", path: "/api/auth/accounts/" + other + "/password", body: `{"new_password":"long enough 1"}`, token: b.admin, status: 204},
		{method: "GET", path: "/api/admin/jobs?limit=5", token: b.admin, status: 200},
		{method: "GET", path: "/api/admin/jobs?state=bogus", token: b.admin, status: 400},
		{method: "GET", path: "/api/admin/jobs/stats", token: b.admin, status: 200},
		{method: "GET", path: "/api/admin/jobs/999999", token: b.admin, status: 404},
		{method: "POST", path: "/api/admin/jobs/999999/retry", token: b.admin, status: 404},
		{method: "POST", path: "/api/admin/jobs/999999/cancel", token: b.admin, status: 404},
		{method: "GET", path: "/api/admin/jobs", status: 401},
		{method: "GET", path: "/api/admin/jobs", token: customer, status: 403},
		{method: "POST", path: "/hooks/payments", body: `{}`, status: 503},
		{method: "GET", path: "/api/_files/products/image/nothing", status: 404},
	} {
		c.send(t, b, ex)
	}
	keyExchanges(t, b, c, customer)
	webhookExchanges(t, b, c)
	jobExchanges(t, b, c)
	fileExchanges(t, b, c)
}

// fileExchanges reads an uploaded image through the URL its record gives.
func fileExchanges(t *testing.T, b *testBundle, c documentChecks) {
	product := b.create("products", map[string]any{"name": "Lamp", "price": "20.00"})
	res := b.upload("/api/products/"+product+"/files/image", "lamp.png", testPNG(t, 20, 10))
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	u, err := url.Parse(res.body["image"].(map[string]any)["url"].(string))
	require.NoError(t, err)
	c.send(t, b, exchange{method: "GET", path: u.RequestURI(), status: 200})
}

// jobExchanges reads and cancels a real job (this server runs no workers: it stays put).
func jobExchanges(t *testing.T, b *testBundle, c documentChecks) {
	id, err := b.app.Jobs.Enqueue(context.Background(), jobs.Request{Kind: files.DeleteKind, Args: map[string]any{"keys": []string{}}})
	require.NoError(t, err)
	job := "/api/admin/jobs/" + strconv.FormatInt(id, 10)
	for _, ex := range []exchange{
		{method: "GET", path: "/api/admin/jobs?kind=" + url.QueryEscape(files.DeleteKind), token: b.admin, status: 200},
		{method: "GET", path: job, token: b.admin, status: 200},
		{method: "POST", path: job + "/cancel", token: b.admin, status: 200},
		{method: "POST", path: job + "/cancel", token: b.admin, status: 409},
		{method: "POST", path: job + "/retry", token: b.admin, status: 200},
	} {
		c.send(t, b, ex)
	}
	// a finished job has nothing to cancel: the API says so, as kiln jobs cancel does (it
	// answered 200 with the job unchanged, and settled a cancelled one again)
	c.send(t, b, exchange{method: "POST", path: job + "/cancel", token: b.admin, status: 200})
	res := b.do("POST", job+"/cancel", nil)
	require.Equal(t, http.StatusConflict, res.status, string(res.raw))
	require.Equal(t, "conflict", res.body["error"])
	require.Equal(t, "job "+strconv.FormatInt(id, 10)+" already cancelled: nothing to cancel", res.body["detail"])
}

func keyExchanges(t *testing.T, b *testBundle, c documentChecks, customer string) {
	raw := c.send(t, b, exchange{method: "POST", path: "/api/auth/keys", body: `{"name":"ci","role":"staff","scopes":["products:read"],"expires_in":"720h"}`, token: b.admin, status: 201})
	var created struct {
		APIKey struct{ ID string } `json:"api_key"`
	}
	require.NoError(t, json.Unmarshal(raw, &created))
	id := created.APIKey.ID
	for _, ex := range []exchange{
		{method: "POST", path: "/api/auth/keys", body: `{"name":"ci","role":"nobody","scopes":["products:read"]}`, token: b.admin, status: 400},
		{method: "GET", path: "/api/auth/keys", token: b.admin, status: 200},
		{method: "GET", path: "/api/auth/keys", token: customer, status: 403},
		{method: "GET", path: "/api/auth/keys", status: 401},
		{method: "DELETE", path: "/api/auth/keys/" + id, token: b.admin, status: 204},
		{method: "DELETE", path: "/api/auth/keys/" + id, token: b.admin, status: 404},
	} {
		c.send(t, b, ex)
	}
}

func webhookExchanges(t *testing.T, b *testBundle, c documentChecks) {
	hook := `{"name":"ci","url":"http://127.0.0.1:9/hook","events":["orders.update"]}`
	for _, ex := range []exchange{
		{method: "POST", path: "/api/admin/webhooks", body: hook, token: b.admin, status: 201},
		{method: "POST", path: "/api/admin/webhooks", body: hook, token: b.admin, status: 409},
		{method: "POST", path: "/api/admin/webhooks", body: `{"name":"x","url":"http://10.0.0.1/hook","events":["orders.update"]}`, token: b.admin, status: 400},
		{method: "GET", path: "/api/admin/webhooks", token: b.admin, status: 200},
		{method: "GET", path: "/api/admin/webhooks/ci", token: b.admin, status: 200},
		{method: "GET", path: "/api/admin/webhooks/nothing", token: b.admin, status: 404},
		{method: "PATCH", path: "/api/admin/webhooks/ci", body: `{"enabled":false}`, token: b.admin, status: 200},
		{method: "POST", path: "/api/admin/webhooks/ci/rotate", body: `{"overlap":"1h"}`, token: b.admin, status: 200},
		{method: "GET", path: "/api/admin/webhooks/ci/deliveries?limit=10", token: b.admin, status: 200},
		{method: "POST", path: "/api/admin/webhooks/ci/replay", body: `{"since":"2026-01-01T00:00:00Z"}`, token: b.admin, status: 202},
		{method: "POST", path: "/api/admin/webhooks/ci/deliveries/nothing/replay", token: b.admin, status: 404},
		{method: "DELETE", path: "/api/admin/webhooks/order_paid", token: b.admin, status: 409},
		{method: "DELETE", path: "/api/admin/webhooks/ci", token: b.admin, status: 204},
	} {
		c.send(t, b, ex)
	}
}
