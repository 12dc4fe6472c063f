package kiln_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// testWebhookSecret signs the shop's order_paid deliveries in these tests.
const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA="

// delivery is one request a receiver got.
type delivery struct {
	host   string
	header http.Header
	body   []byte
	at     time.Time
	status int
}

// receiver is a webhook endpoint started by the test: answer decides each status (and may
// set headers) from the request's index.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery
	answer func(n int, w http.ResponseWriter) int
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter) int) *receiver {
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		status := rc.answer(n, w)
		rc.got = append(rc.got, delivery{host: r.Host, header: r.Header.Clone(), body: body, at: time.Now(), status: status})
		rc.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte("answer " + http.StatusText(status)))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// hookOpts shape a webhook test app.
type hookOpts struct {
	spec string            // spec source; the shop when empty
	env  map[string]string // the environment the spec and the secrets are read from
	ext  *kiln.Extensions
	log  *slog.Logger // the app's logger; none when nil
}

// setupHooks starts an app on the dialect with env, retry waits of 50ms and workers
// running.
func setupHooks(t *testing.T, dialect string, o hookOpts) *testBundle {
	t.Helper()
	dir := t.TempDir()
	src := o.spec
	if src == "" {
		raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
		require.NoError(t, err)
		src = string(raw)
	}
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(src), 0o644))
	copyShopMails(t, dir)
	env := func(k string) (string, bool) { v, ok := o.env[k]; return v, ok }
	cfg := kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "migrations"),
		Dev: true, LookupEnv: env, AuthSecret: testSecret, Extensions: o.ext, Logger: o.log}
	kiln.SetWebhookSchedule(&cfg, []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond})
	if dialect == "postgres" {
		cfg.DatabaseURL = testdb.PostgresURL(t)
	}
	app, err := kiln.New(context.Background(), cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(app.Handler())
	require.NoError(t, app.Jobs.Start(context.Background()))
	t.Cleanup(func() {
		require.NoError(t, app.Jobs.Stop(context.Background()))
		srv.Close()
		require.NoError(t, app.Close())
	})
	b := &testBundle{app: app, srv: srv, t: t, dataDir: dir}
	b.admin = b.token(app.Spec.Auth.AdminRoles[0])
	return b
}

// payOrder places an order as a new customer and marks it paid as the admin.
func (b *testBundle) payOrder() string {
	b.t.Helper()
	p := b.product("Lamp", "30", 10)
	order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 1)}}, bearer(b.token("customer"))...)
	require.Equal(b.t, http.StatusCreated, order.status, string(order.raw))
	id := order.body["id"].(string)
	res := b.do("PATCH", "/api/orders/"+id, map[string]any{"status": "paid"})
	require.Equal(b.t, http.StatusOK, res.status, string(res.raw))
	return id
}

// verify checks a delivery with the Standard Webhooks library's verifier.
func verify(t *testing.T, secret string, d delivery) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(d.body, d.header))
}

type hookBody struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		EventID  int64          `json:"event_id"`
		Resource string         `json:"resource"`
		RecordID string         `json:"record_id"`
		Old      map[string]any `json:"old"`
		New      map[string]any `json:"new"`
	} `json:"data"`
}

func decodeHook(t *testing.T, d delivery) hookBody {
	t.Helper()
	var hb hookBody
	require.NoError(t, json.Unmarshal(d.body, &hb))
	return hb
}

func shopEnv(rc *receiver) map[string]string {
	return map[string]string{"SHOP_WEBHOOK_URL": rc.srv.URL + "/hooks/kiln", "SHOP_WEBHOOK_SECRET": testWebhookSecret}
}

// A receiver that fails the first two deliveries (the second with Retry-After) gets every
// order.paid event delivered successfully exactly once afterwards, each request signed so
// the Standard Webhooks library verifies it, with the same webhook-id on every retry and
// the order before and after in the body; the delivery log shows every attempt.
func TestWebhookOrderPaidDeliveredOnceAfterTwoFailures(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
			switch n {
			case 0:
				return http.StatusInternalServerError
			case 1:
				w.Header().Set("Retry-After", "1")
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		first := b.payOrder()
		waitFor(t, func() bool { return len(rc.deliveries()) >= 3 })
		orders := []string{first, b.payOrder(), b.payOrder()}
		waitFor(t, func() bool { return len(rc.deliveries()) >= 5 })
		waitFor(t, func() bool { return len(b.pendingDeliveries()) == 0 })

		got := rc.deliveries()
		require.Len(t, got, 5, "two failures, then one success per paid order")
		ok := map[string]int{}
		ids := map[string]string{}
		for i, d := range got {
			verify(t, testWebhookSecret, d)
			hb := decodeHook(t, d)
			require.Equal(t, "order.paid", hb.Type)
			require.Equal(t, "orders", hb.Data.Resource)
			require.Equal(t, "paid", hb.Data.New["status"])
			require.Equal(t, "pending", hb.Data.Old["status"])
			if prev, seen := ids[hb.Data.RecordID]; seen {
				require.Equal(t, prev, d.header.Get("webhook-id"), "a retry keeps the webhook-id")
			}
			ids[hb.Data.RecordID] = d.header.Get("webhook-id")
			require.Regexp(t, `^msg_[0-9]+_[0-9]+_[0-9a-f]{12}$`, d.header.Get("webhook-id"), "event, subscription, and random: unique across databases")
			if d.status == http.StatusOK {
				ok[hb.Data.RecordID]++
			}
			if i == 2 {
				require.GreaterOrEqual(t, d.at.Sub(got[1].at), time.Second, "Retry-After: 1 is honoured over the 50ms schedule")
			}
		}
		for _, id := range orders {
			require.Equal(t, 1, ok[id], "order %s delivered once", id)
		}
		log := b.do("GET", "/api/admin/webhooks/order_paid/deliveries", nil)
		require.Equal(t, http.StatusOK, log.status, string(log.raw))
		items := log.body["items"].([]any)
		require.Len(t, items, 5)
		oldest := items[4].(map[string]any)
		require.Equal(t, json.Number("500"), oldest["status_code"])
		require.Equal(t, "answer Internal Server Error", oldest["response"])
		require.Contains(t, oldest, "latency_ms")
	})
}

// pendingDeliveries lists delivery jobs not finished yet.
func (b *testBundle) pendingDeliveries() []*jobs.Job {
	b.t.Helper()
	list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "webhook.deliver", Limit: 500})
	require.NoError(b.t, err)
	var out []*jobs.Job
	for _, j := range list {
		if j.State != jobs.StateCompleted && j.State != jobs.StateCancelled && j.State != jobs.StateDead {
			out = append(out, j)
		}
	}
	return out
}

// A write that rolls back enqueues no delivery, and an order that does not become paid
// matches no subscription.
func TestWebhookOnlyCommittedMatchingWritesDeliver(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusOK })
	b := setupHooks(t, "sqlite", hookOpts{env: shopEnv(rc)})
	p := b.product("Mug", "5", 5)
	order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 1)}}, bearer(b.token("customer"))...)
	require.Equal(t, http.StatusCreated, order.status, string(order.raw))
	id := order.body["id"].(string)
	rolled := b.do("POST", "/api/batch", map[string]any{"operations": []any{
		map[string]any{"method": "PATCH", "path": "/api/orders/" + id, "body": map[string]any{"status": "paid"}},
		map[string]any{"method": "POST", "path": "/api/tags", "body": map[string]any{"name": ""}},
	}})
	require.Equal(t, http.StatusBadRequest, rolled.status, string(rolled.raw))
	require.Equal(t, http.StatusOK, b.do("PATCH", "/api/orders/"+id, map[string]any{"notes": "gift"}).status)
	list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "webhook.deliver"})
	require.NoError(t, err)
	require.Empty(t, list)
	require.Empty(t, rc.deliveries())
}

func TestWebhookSpecErrorsArePlaced(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	src := strings.Replace(string(raw), `when: "old.status != 'paid' && new.status == 'paid'"
    type: order.paid`, `when: "new.nope == 1"
    type: order.paid`, 1)
	src = strings.Replace(src, "secret_env: SHOP_WEBHOOK_SECRET", "secret_env: whsec_inline", 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	copyShopMails(t, dir)
	_, err = kiln.LoadSpec(path, noEnv)
	require.Error(t, err)
	require.Contains(t, err.Error(), "webhook order_paid needs secret_env")
	src = strings.Replace(src, "secret_env: whsec_inline", "secret_env: SHOP_WEBHOOK_SECRET", 1)
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err = kiln.LoadSpec(path, noEnv)
	require.Error(t, err)
	require.Regexp(t, regexp.QuoteMeta(path)+`:\d+:\d+: webhook order_paid when: .*nope`, err.Error())
}

// A spec subscription whose secret variable is empty or holds no secret is named at start (a
// new user's trial learned of it only from failed deliveries), without the value; so is an
// incoming Standard Webhooks endpoint whose secret cannot verify anything.
func TestWebhookSecretProblemsAreLoggedAtStart(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusNoContent })
	for name, value := range map[string]string{"empty": "", "malformed": "whsec_!!!not-base64"} {
		var logs lockedBuffer
		env := shopEnv(rc)
		env["SHOP_WEBHOOK_SECRET"], env["PARTNER_WEBHOOK_SECRET"] = value, "whsec_!!!not-base64"
		x := &kiln.Extensions{}
		for _, h := range []string{"stripe_event", "partner_event"} {
			x.Webhook(h, func(context.Context, kiln.IncomingWebhook) error { return nil })
		}
		setupHooks(t, "sqlite", hookOpts{env: env, ext: x, log: slog.New(slog.NewJSONHandler(&logs, nil)),
			spec: shopSpec(t, func(s string) string { return strings.Replace(s, "\nresources:\n", "\n"+incomingSpec, 1) })})
		out := logs.String()
		require.Contains(t, out, `"msg":"webhook subscription has no usable secret: every delivery fails until the variable is fixed","webhook":"order_paid","secret_env":"SHOP_WEBHOOK_SECRET"`, name)
		require.Contains(t, out, `"msg":"incoming webhook's secret is not a Standard Webhooks secret`, name)
		require.NotContains(t, out, "not-base64", "values are never logged")
	}
}
