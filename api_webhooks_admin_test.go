package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/jobs"
)

// shopSpec is the shop's spec with edit applied.
func shopSpec(t *testing.T, edit func(string) string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	return edit(string(raw))
}

func deliveryJobs(t *testing.T, b *testBundle) []*jobs.Job {
	t.Helper()
	list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "webhook.deliver", Limit: 500})
	require.NoError(t, err)
	return list
}

// The admin webhooks API: administrators list, create (the secret is shown once), change,
// rotate and delete subscriptions; a subscription of the spec changes only in the spec
// (but may be disabled); others are refused; secrets appear nowhere else.
func TestWebhookAdminAPI(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusNoContent })
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		const p = "/api/admin/webhooks"
		require.Equal(t, http.StatusUnauthorized, b.do("GET", p, nil, "Authorization", "").status)
		require.Equal(t, http.StatusForbidden, b.do("GET", p, nil, bearer(b.token("customer"))...).status)

		list := b.do("GET", p, nil)
		require.Equal(t, http.StatusOK, list.status, string(list.raw))
		spec := list.body["items"].([]any)[0].(map[string]any)
		require.Equal(t, "order_paid", spec["name"])
		require.Equal(t, "spec", spec["source"])
		require.Equal(t, "SHOP_WEBHOOK_SECRET", spec["secret_env"])

		created := b.do("POST", p, map[string]any{"name": "crm", "url": rc.srv.URL + "/crm", "events": []string{"orders.*"}})
		require.Equal(t, http.StatusCreated, created.status, string(created.raw))
		secret := created.body["secret"].(string)
		require.True(t, strings.HasPrefix(secret, "whsec_"))
		require.Equal(t, p+"/crm", created.header.Get("Location"))
		got := b.do("GET", p+"/crm", nil)
		require.Equal(t, http.StatusOK, got.status)
		require.NotContains(t, got.body, "secret")
		require.NotContains(t, string(b.do("GET", p, nil).raw), secret[6:])

		require.Equal(t, "webhook_exists", b.do("POST", p, map[string]any{"name": "crm", "url": rc.srv.URL, "events": []string{"orders.*"}}).body["error"])
		bad := b.do("POST", p, map[string]any{"name": "x", "url": rc.srv.URL, "events": []string{"nope.update"}, "when": "new.nope == 1", "colour": "red"})
		require.Equal(t, http.StatusBadRequest, bad.status, string(bad.raw))
		bad = b.do("POST", p, map[string]any{"name": "x", "url": rc.srv.URL, "events": []string{"nope.update", "orders.update"}, "when": "new.nope == 1"})
		require.Equal(t, http.StatusBadRequest, bad.status, string(bad.raw))
		require.Equal(t, map[string]string{"events": "enum", "when": "scope"}, fieldCodes(bad.body))
		bad = b.do("POST", p, map[string]any{"name": "x", "url": rc.srv.URL, "events": []string{"orders.update"}, "when": "new.nope == 1"})
		require.Equal(t, map[string]string{"when": "expression"}, fieldCodes(bad.body))

		up := b.do("PATCH", p+"/crm", map[string]any{"events": []string{"orders.update"}, "when": "new.status == 'paid'", "type": "crm.paid"})
		require.Equal(t, http.StatusOK, up.status, string(up.raw))
		require.Equal(t, "crm.paid", up.body["type"])
		require.Equal(t, "webhook_declared_in_spec", b.do("PATCH", p+"/order_paid", map[string]any{"url": rc.srv.URL}).body["error"])
		require.Equal(t, http.StatusConflict, b.do("DELETE", p+"/order_paid", nil).status)
		off := b.do("PATCH", p+"/order_paid", map[string]any{"enabled": false})
		require.Equal(t, http.StatusOK, off.status, string(off.raw))
		require.Equal(t, false, off.body["enabled"])

		rot := b.do("POST", p+"/crm/rotate", map[string]any{"overlap": "1h"})
		require.Equal(t, http.StatusOK, rot.status, string(rot.raw))
		next := rot.body["secret"].(string)
		require.NotEqual(t, secret, next)
		require.NotNil(t, rot.body["rotating_until"])
		b.payOrder()
		waitFor(t, func() bool { return len(rc.deliveries()) == 1 })
		d := rc.deliveries()[0]
		require.Equal(t, "crm.paid", decodeHook(t, d).Type)
		require.Len(t, strings.Fields(d.header.Get("webhook-signature")), 2, "both secrets sign during the rotation")
		verify(t, secret, d)
		verify(t, next, d)

		doc := b.do("GET", "/api/openapi.json", nil)
		require.Equal(t, http.StatusOK, doc.status)
		for _, s := range []string{secret[6:], next[6:], testWebhookSecret[6:]} {
			require.NotContains(t, string(doc.raw), s)
		}
		waitFor(t, func() bool { return len(b.attempts("crm")) == 1 }) // logged once the answer is read
		page := b.do("GET", p+"/crm/deliveries?limit=1", nil)
		require.Len(t, page.body["items"], 1)
		first := page.body["items"].([]any)[0].(map[string]any)
		require.Equal(t, first["id"], page.body["next_before"], "a full page says where the next starts, as the jobs list does")
		rest := b.do("GET", p+"/crm/deliveries?limit=1&before="+fmt.Sprint(first["id"]), nil)
		require.Empty(t, rest.body["items"], string(rest.raw))
		require.NotContains(t, rest.body, "next_before")
		require.Equal(t, map[string]string{"limit": "format"}, fieldCodes(b.do("GET", p+"/crm/deliveries?limit=x", nil).body))
		// a parameter it does not take is refused, not ignored (a new user's trial filtered by status)
		require.Equal(t, map[string]string{"status": "unknown_parameter"}, fieldCodes(b.do("GET", p+"/crm/deliveries?status=500", nil).body))
		require.Equal(t, map[string]string{"limit": "range"}, fieldCodes(b.do("GET", p+"/crm/deliveries?limit=501", nil).body))
		require.Equal(t, http.StatusNoContent, b.do("DELETE", p+"/crm", nil).status)
		require.Equal(t, http.StatusNotFound, b.do("GET", p+"/crm", nil).status)
	})
}

// Subscriptions to metadata, private or loopback addresses are refused with a stable code
// (webhooks_allow_hosts aside), and deliveries are refused at connect time: to a name that
// resolves to loopback, and through a redirect to the metadata address.
func TestWebhookSSRFGuard(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
		w.Header().Set("Location", "http://169.254.169.254/latest/meta-data/")
		return http.StatusTemporaryRedirect // a 307 is followed (a 302 is not: it would drop the POST's body)
	})
	b := setupHooks(t, "sqlite", hookOpts{env: shopEnv(rc)})
	const p = "/api/admin/webhooks"
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":"):]
	for _, u := range []string{"http://169.254.169.254/", "http://[fd00:ec2::254]/latest", "http://10.0.0.1/hook", "http://192.168.1.20/",
		"http://100.64.0.1/", "http://[::1]" + port + "/", "http://127.0.0.2" + port + "/"} {
		res := b.do("POST", p, map[string]any{"name": "evil", "url": u, "events": []string{"orders.*"}})
		require.Equal(t, http.StatusBadRequest, res.status, u)
		require.Equal(t, "webhook_url_forbidden", res.body["error"], u)
	}
	b.payOrder() // the receiver redirects to the metadata address: the guard refuses it
	waitFor(t, func() bool { return len(b.attempts("order_paid")) > 0 })
	a := b.attempts("order_paid")[0]
	require.Contains(t, a["error"], "refused by the SSRF guard")
	require.NotEmpty(t, rc.deliveries(), "the receiver answered; its redirect was not followed")

	closed := setupHooks(t, "sqlite", hookOpts{env: map[string]string{"SHOP_WEBHOOK_URL": "http://localhost" + port + "/hooks", "SHOP_WEBHOOK_SECRET": testWebhookSecret},
		spec: shopSpec(t, func(s string) string { return strings.Replace(s, "webhooks_allow_hosts: [127.0.0.1]", "", 1) })})
	res := closed.do("POST", p, map[string]any{"name": "local", "url": "http://localhost" + port + "/", "events": []string{"orders.*"}})
	require.Equal(t, "webhook_url_forbidden", res.body["error"], string(res.raw))
	closed.payOrder()
	waitFor(t, func() bool { return len(closed.attempts("order_paid")) > 0 })
	require.Contains(t, closed.attempts("order_paid")[0]["error"], "refused by the SSRF guard")
	for _, d := range rc.deliveries() {
		require.NotContains(t, d.host, "localhost", "nothing reached the receiver through localhost")
	}
}

func (b *testBundle) attempts(name string) []map[string]any {
	b.t.Helper()
	res := b.do("GET", "/api/admin/webhooks/"+name+"/deliveries", nil)
	require.Equal(b.t, http.StatusOK, res.status, string(res.raw))
	var out []map[string]any
	for _, it := range res.body["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// 410 disables the subscription (no more deliveries are even enqueued); re-enabled, a
// replay re-sends the message with its webhook-id; a message out of attempts is sent again
// by replaying the failed ones since a time.
func TestWebhookGoneDisablesAndReplayResends(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
			switch {
			case n == 0:
				return http.StatusGone
			case n >= 2 && n <= 5:
				return http.StatusBadGateway
			}
			return http.StatusOK
		})
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		const p = "/api/admin/webhooks/order_paid"
		b.payOrder()
		waitFor(t, func() bool { return b.do("GET", p, nil).body["enabled"] == false })
		require.Equal(t, "the endpoint answered 410 Gone", b.do("GET", p, nil).body["disabled_reason"])
		b.payOrder()
		require.Len(t, deliveryJobs(t, b), 1, "a disabled subscription enqueues nothing")

		require.Equal(t, http.StatusOK, b.do("PATCH", p, map[string]any{"enabled": true}).status)
		msg := b.attempts("order_paid")[0]["message_id"].(string)
		res := b.do("POST", p+"/deliveries/"+msg+"/replay", nil)
		require.Equal(t, http.StatusAccepted, res.status, string(res.raw))
		waitFor(t, func() bool { return len(rc.deliveries()) == 2 })
		got := rc.deliveries()
		require.Equal(t, got[0].header.Get("webhook-id"), got[1].header.Get("webhook-id"))
		require.Equal(t, got[0].body, got[1].body)
		require.Equal(t, http.StatusNotFound, b.do("POST", p+"/deliveries/msg_0_0/replay", nil).status)

		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		b.payOrder()
		waitFor(t, func() bool { return len(rc.deliveries()) == 6 && len(b.pendingDeliveries()) == 0 })
		res = b.do("POST", p+"/replay", map[string]any{"since": since})
		require.Equal(t, http.StatusAccepted, res.status, string(res.raw))
		require.Equal(t, json.Number("1"), res.body["replayed"])
		waitFor(t, func() bool { return len(rc.deliveries()) == 7 })
		got = rc.deliveries()
		require.Equal(t, got[2].header.Get("webhook-id"), got[6].header.Get("webhook-id"))
		require.Equal(t, http.StatusOK, got[6].status)
		require.Equal(t, http.StatusBadRequest, b.do("POST", p+"/replay", map[string]any{}).status)
		// a time that does not parse is the field's error, as a missing one is (it was the body's)
		bad := b.do("POST", p+"/replay", map[string]any{"since": "yesterday"})
		require.Equal(t, http.StatusBadRequest, bad.status, string(bad.raw))
		require.Equal(t, map[string]string{"since": "format"}, fieldCodes(bad.body), string(bad.raw))
	})
}

// The sweep deletes finished messages and their log once older than the cut-off, and
// nothing younger.
func TestWebhookSweepDeletesOldFinishedMessages(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusOK })
	b := setupHooks(t, "sqlite", hookOpts{env: shopEnv(rc)})
	b.payOrder()
	waitFor(t, func() bool { return len(b.attempts("order_paid")) == 1 && len(b.pendingDeliveries()) == 0 })
	msg := b.attempts("order_paid")[0]["message_id"].(string)
	require.NoError(t, kiln.SweepWebhooks(b.app, time.Now().Add(-time.Hour)))
	require.Len(t, b.attempts("order_paid"), 1)
	require.NoError(t, kiln.SweepWebhooks(b.app, time.Now().Add(time.Hour)))
	require.Empty(t, b.attempts("order_paid"))
	require.Equal(t, http.StatusNotFound, b.do("POST", "/api/admin/webhooks/order_paid/deliveries/"+msg+"/replay", nil).status)
}

// Bad bodies to the webhook admin API get the API's own errors, never encoding/json's text
// with Go's type names (webhooks.Input).
func TestWebhookAdminBadBodies(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusNoContent })
	b := setupHooks(t, "sqlite", hookOpts{env: shopEnv(rc)})
	const p = "/api/admin/webhooks"
	for _, tc := range []struct {
		body  string
		code  string
		field string
	}{
		{`[1]`, "malformed_request", ""},
		{`{"name": 5, "url": "http://x/", "events": ["orders.*"]}`, "validation_failed", "name"},
		{`{"name": "a", "events": "orders.*"}`, "validation_failed", "events"},
		{`{"name": "a", "events": ["orders.*", 1]}`, "validation_failed", "events"},
		{`{"name": "a", "colour": "red"}`, "validation_failed", "colour"},
		{`{"name": "a", "name": "b"}`, "malformed_request", "name"},
		{`{"name": `, "malformed_request", ""},
	} {
		res := b.do("POST", p, tc.body)
		require.Equal(t, tc.code, res.body["error"], tc.body+": "+string(res.raw))
		if tc.field != "" {
			require.Contains(t, fieldCodes(res.body), tc.field, string(res.raw))
		}
		if strings.Contains(tc.body, `, 1]`) {
			require.Contains(t, string(res.raw), "must be a list, each item a string", string(res.raw))
		}
		require.NotContains(t, string(res.raw), "Go value", tc.body)
		require.NotContains(t, string(res.raw), "webhooks.", tc.body)
	}
}

// Cancelling a delivery job that waits for its next attempt marks its message failed, so a
// bulk replay sends it again: it stayed 'retrying', which no job tried again, the replay
// skipped and the sweep kept for ever (found by a helper with kiln jobs cancel).
func TestCancelledDeliveryJobLeavesItsMessageReplayable(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
			if n == 0 {
				w.Header().Set("Retry-After", "3600")
				return http.StatusBadGateway
			}
			return http.StatusOK
		})
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		b.payOrder()
		waitFor(t, func() bool {
			p := b.pendingDeliveries()
			return len(rc.deliveries()) == 1 && len(p) == 1 && (p[0].State == jobs.StateRetryable || p[0].State == jobs.StateScheduled)
		})
		job := b.pendingDeliveries()[0]
		cancelled, err := b.app.Jobs.Cancel(context.Background(), job.ID)
		require.NoError(t, err)
		require.Equal(t, jobs.StateCancelled, cancelled.State)
		res := b.do("POST", "/api/admin/webhooks/order_paid/replay", map[string]any{"since": since})
		require.Equal(t, http.StatusAccepted, res.status, string(res.raw))
		require.Equal(t, json.Number("1"), res.body["replayed"], string(res.raw))
		waitFor(t, func() bool { return len(rc.deliveries()) == 2 })
		require.Equal(t, http.StatusOK, rc.deliveries()[1].status)
	})
}
