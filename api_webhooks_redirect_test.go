package kiln_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/service"
)

// received records the requests a test receiver got, by path.
type received struct {
	mu   sync.Mutex
	reqs map[string][]string // path → "METHOD <body bytes>"
}

func (rc *received) add(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.reqs == nil {
		rc.reqs = map[string][]string{}
	}
	rc.reqs[r.URL.Path] = append(rc.reqs[r.URL.Path], r.Method+" "+map[bool]string{true: "with body", false: "without body"}[len(b) > 0])
}

func (rc *received) at(path string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.reqs[path]...)
}

// A subscription whose URL answers 302 (or 301, 303) is not followed: Go's client turns the
// POST into a GET without the body, which reached the new place while the delivery was
// recorded a success (found by a helper trying webhooks as a user). The attempt fails with
// the redirect's status; a 307 keeps the POST and its body, and is followed.
func TestWebhookRedirectThatDropsTheBodyFailsTheAttempt(t *testing.T) {
	t.Parallel()
	var rc received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.add(r)
		switch r.URL.Path {
		case "/found":
			http.Redirect(w, r, "/moved", http.StatusFound)
		case "/temporary":
			http.Redirect(w, r, "/kept", http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	for _, c := range []struct{ path, status, lands string }{{"/found", `"status_code":302`, "/moved"}, {"/temporary", `"status_code":200`, "/kept"}} {
		b := setupHooks(t, "sqlite", hookOpts{env: map[string]string{"SHOP_WEBHOOK_URL": srv.URL + c.path, "SHOP_WEBHOOK_SECRET": testWebhookSecret}})
		b.payOrder()
		waitFor(t, func() bool {
			return strings.Contains(string(b.do("GET", "/api/admin/webhooks/order_paid/deliveries", nil).raw), c.status)
		})
		if c.path == "/found" {
			require.Empty(t, rc.at("/moved"), "a 302 is not followed")
			continue
		}
		require.Equal(t, []string{"POST with body"}, rc.at("/kept"))
	}
}

// Commands that inspect or administer the database (kiln jobs, keys, users, seed: Admin) leave
// the spec's subscriptions as the serving process stored them: one run from another shell,
// without the URL's variable, rewrote the URL every running server delivered to.
func TestAdminProcessLeavesTheSpecSubscriptions(t *testing.T) {
	t.Parallel()
	var rc received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rc.add(r) }))
	t.Cleanup(srv.Close)
	b := setupHooks(t, "sqlite", hookOpts{env: map[string]string{"SHOP_WEBHOOK_URL": srv.URL + "/serving", "SHOP_WEBHOOK_SECRET": testWebhookSecret}})
	other := map[string]string{"SHOP_WEBHOOK_URL": srv.URL + "/other-shell"}
	cfg := kiln.Config{SpecPath: filepath.Join(b.dataDir, "kiln.yaml"), DataDir: b.dataDir, MigrationsDir: filepath.Join(b.dataDir, "migrations"),
		Dev: true, LookupEnv: func(k string) (string, bool) { v, ok := other[k]; return v, ok }, AuthSecret: testSecret,
		NoTokens: true, NoWorkers: true, Admin: true}
	admin, err := kiln.New(context.Background(), cfg)
	require.NoError(t, err)
	require.NoError(t, admin.Close())
	b.payOrder()
	waitFor(t, func() bool { return len(rc.at("/serving")) == 1 })
	time.Sleep(200 * time.Millisecond)
	require.Empty(t, rc.at("/other-shell"))
}

// An incoming endpoint whose secret variable is unset answers 503 webhook_not_configured (the
// sender retries until the secret is set), not 500: the shop's payments endpoint without
// STRIPE_WEBHOOK_SECRET answered 500 internal to every event (found by a helper).
func TestIncomingWebhookWithoutSecretIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setupHooks(t, "sqlite", hookOpts{env: map[string]string{"SHOP_WEBHOOK_SECRET": testWebhookSecret}})
	req, err := http.NewRequest("POST", b.srv.URL+"/hooks/payments", strings.NewReader(`{"id":"evt_1","type":"x"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", "t=1796551000,v1=00")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, string(body))
	require.Contains(t, string(body), `"error":"webhook_not_configured"`)
	require.NotContains(t, string(body), "STRIPE_WEBHOOK_SECRET")
}

// A subscription's when that reads auth.role does not hold for a write without an account
// (anonymous, or Kiln's own: a schedule's update, an incoming webhook's action): auth had no
// role there, the condition could not be computed, and every such write was refused 409
// logic_failed (found by a helper with a subscription made through the admin API). A
// trigger's when, whose action runs on Kiln's own authority, still fails closed there: with
// auth.role "" a negated test (auth.role != 'member') ran a staff-only action for an
// anonymous write (found by the next review).
func TestConditionOnAuthRoleForWritesWithoutAnAccount(t *testing.T) {
	t.Parallel()
	src := `webhooks:
  - name: agents
    url: ${HOOK_URL}
    events: [notes.create]
    when: "auth.role == 'admin'"
    secret_env: HOOK_SECRET
webhooks_allow_hosts: [127.0.0.1]
roles: [admin, member]
auth:
  account: users
  admin_roles: [admin]
resources:
  users:
    fields:
      name: string
  notes:
    fields:
      title: string
      approved: {type: boolean, default: false}
    triggers:
      - {name: approve_it, on: [create], when: "auth.role != 'member'", action: approve}
    actions:
      approve:
        access: public
        steps:
          - set: {approved: "true"}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusOK })
	env := map[string]string{"HOOK_URL": rc.srv.URL + "/hooks", "HOOK_SECRET": testWebhookSecret}
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupHooks(t, dialect, hookOpts{spec: src, env: env})
		res := b.do("POST", "/api/notes", map[string]any{"title": "anonymous"}, "Authorization", "")
		require.Equal(t, http.StatusConflict, res.status, "the trigger's condition fails closed: %s", res.raw)
		require.Equal(t, "logic_failed", res.body["error"], string(res.raw))
		noTrigger := strings.Replace(src, "    triggers:\n      - {name: approve_it, on: [create], when: \"auth.role != 'member'\", action: approve}\n", "", 1)
		require.NotEqual(t, src, noTrigger)
		b = setupHooks(t, dialect, hookOpts{spec: noTrigger, env: env})
		res = b.do("POST", "/api/notes", map[string]any{"title": "anonymous"}, "Authorization", "")
		require.Equal(t, http.StatusCreated, res.status, "the subscription's condition does not hold: %s", res.raw)
		_, err := b.app.Service.Create(service.AsSystem(context.Background()), "notes", map[string]any{"title": "system"}, service.WriteOpts{})
		require.NoError(t, err)
		require.EqualValues(t, 2, b.count("notes"))
	})
}
