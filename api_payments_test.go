package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/testdb"
)

const (
	stripeKey           = "sk_test_kiln0123456789"
	stripeWebhookSecret = "whsec_payments_test_0123456789"
)

type payBundle struct {
	*testBundle
	stripe *stripeMock
}

// setupPayments starts the shop (edited by edit) with Stripe pointed at a stripe-mock of
// its own and workers running.
func setupPayments(t *testing.T, dialect string, edit func(string) string, tune ...func(*kiln.Config)) *payBundle {
	t.Helper()
	mock := startStripeMock(t)
	dir := t.TempDir()
	src := shopSpec(t, func(s string) string { return s })
	if edit != nil {
		src = edit(src)
	}
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(src), 0o644))
	copyShopMails(t, dir)
	env := map[string]string{"STRIPE_API_URL": mock.URL(), "STRIPE_SECRET_KEY": stripeKey,
		"STRIPE_WEBHOOK_SECRET": stripeWebhookSecret, "SHOP_WEBHOOK_SECRET": testWebhookSecret}
	cfg := kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "migrations"), Dev: true,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, AuthSecret: testSecret}
	logs := &lockedBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		for _, secret := range []string{stripeKey, stripeWebhookSecret} {
			require.NotContains(t, logs.String(), secret, "a secret in the logs")
		}
	})
	for _, f := range tune {
		f(&cfg)
	}
	if dialect == "postgres" {
		cfg.DatabaseURL = testdb.PostgresURL(t)
	}
	app, err := kiln.New(context.Background(), cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, app.Close())
	})
	require.NoError(t, app.Jobs.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, app.Jobs.Stop(context.Background())) })
	b := &testBundle{app: app, srv: srv, t: t, dataDir: dir}
	b.admin = b.token(app.Spec.Auth.AdminRoles[0])
	return &payBundle{testBundle: b, stripe: mock}
}

// lockedBuffer collects the app's logs from every goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// order places an order of one product at price as a new customer: its id and the
// customer's token.
func (p *payBundle) order(price string) (string, string) {
	p.t.Helper()
	prod := p.product("Lamp "+price, price, 100)
	tok := p.token("customer")
	res := p.do("POST", "/api/orders", map[string]any{"items": []any{item(prod, 1)}}, bearer(tok)...)
	require.Equal(p.t, http.StatusCreated, res.status, string(res.raw))
	return res.body["id"].(string), tok
}

func (p *payBundle) status(order string) string {
	p.t.Helper()
	res := p.do("GET", "/api/orders/"+order, nil)
	require.Equal(p.t, http.StatusOK, res.status, string(res.raw))
	return res.body["status"].(string)
}

// event is a Stripe event of type with object as data.object.
func event(id, typ string, object map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "api_version": "2025-01-27",
		"created": time.Now().Unix(), "data": map[string]any{"object": object}})
	return b
}

func orderMeta(order string) map[string]any {
	return map[string]any{"kiln_resource": "orders", "kiln_record_id": order}
}

func sessionCompleted(id, order, intent string, amount int64) []byte {
	return event(id, "checkout.session.completed", map[string]any{"id": "cs_test_" + order[len(order)-8:], "object": "checkout.session",
		"amount_total": amount, "currency": "eur", "payment_status": "paid", "payment_intent": intent, "metadata": orderMeta(order)})
}

func intentEvent(id, typ, order, intent string, amount int64) []byte {
	return event(id, typ, map[string]any{"id": intent, "object": "payment_intent", "amount": amount, "amount_received": amount,
		"currency": "eur", "metadata": orderMeta(order)})
}

func chargeRefunded(id, intent string, amount int64, meta map[string]any) []byte {
	return event(id, "charge.refunded", map[string]any{"id": "ch_" + intent, "object": "charge", "amount": amount,
		"amount_refunded": amount, "refunded": true, "currency": "eur", "payment_intent": intent, "metadata": meta})
}

// send posts a Stripe event to the payments endpoint, signed as Stripe signs.
func (p *payBundle) send(body []byte) int {
	req, err := http.NewRequest("POST", p.srv.URL+"/hooks/payments", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Stripe-Signature", stripeSign(stripeWebhookSecret, time.Now(), body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// settled waits until every payments event job has finished, and returns them.
func (p *payBundle) settled() []*jobs.Job {
	p.t.Helper()
	var list []*jobs.Job
	waitFor(p.t, func() bool {
		var err error
		list, err = p.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "incoming.payments", Limit: 500})
		require.NoError(p.t, err)
		for _, j := range list {
			if j.State != jobs.StateCompleted && j.State != jobs.StateCancelled {
				return false
			}
		}
		return true
	})
	return list
}

// paidMails counts the paid_confirmation jobs: one per order that became paid.
func (p *payBundle) paidMails() int {
	p.t.Helper()
	list, err := p.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "trigger.orders.paid_confirmation", Limit: 500})
	require.NoError(p.t, err)
	return len(list)
}

// payment is the order's latest payment attempt; nil when it has none.
func (p *payBundle) payment(order string) map[string]any {
	p.t.Helper()
	all := p.attempts(order)
	if len(all) == 0 {
		return nil
	}
	return all[0]
}

// attempts are the order's payment attempts, the latest first.
func (p *payBundle) attempts(order string) []map[string]any {
	p.t.Helper()
	rows, err := p.app.Store.Reader().QueryRaw(context.Background(),
		"SELECT attempt, state, COALESCE(intent_id, ''), COALESCE(refund_id, ''), COALESCE(problem, ''), amount, COALESCE(account_id, '') "+
			"FROM kiln_payments WHERE resource = 'orders' AND record_id = ? ORDER BY attempt DESC", order)
	require.NoError(p.t, err)
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var state, intent, refund, problem, account string
		var attempt, amount int64
		require.NoError(p.t, rows.Scan(&attempt, &state, &intent, &refund, &problem, &amount, &account))
		out = append(out, map[string]any{"attempt": attempt, "state": state, "intent": intent, "refund": refund,
			"problem": problem, "amount": amount, "account": account})
	}
	require.NoError(p.t, rows.Err())
	return out
}

// Pay opens a Checkout Session: the answer is its URL; Stripe got the amount in minor
// units (29.99 EUR → 2999), the success and cancel URLs with the order's id, metadata
// naming the order (on the session and its PaymentIntent), the account's customer, and an
// idempotency key per order, attempt and amount. Another customer cannot pay the order.
func TestStripePayOpensCheckout(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		now := time.Unix(1234567890, 0).Add(-time.Hour) // stripe-mock's sessions expire at 1234567890
		p := setupPayments(t, dialect, nil, func(c *kiln.Config) { kiln.SetPaymentsClock(c, func() time.Time { return now }) })
		order, tok := p.order("29.99")
		res := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.True(t, strings.HasPrefix(res.body["url"].(string), "https://checkout.stripe.com/"), res.body["url"])
		require.Equal(t, "29.99", res.body["amount"])
		require.Equal(t, "eur", res.body["currency"])
		require.NotContains(t, string(res.raw), stripeKey)

		sessions := p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, 1)
		s := sessions[0]
		require.Equal(t, http.StatusOK, s.Status)
		require.Equal(t, "Bearer "+stripeKey, s.Auth)
		require.Equal(t, "2999", s.Form.Get("line_items[0][price_data][unit_amount]"))
		require.Equal(t, "eur", s.Form.Get("line_items[0][price_data][currency]"))
		require.Equal(t, "1", s.Form.Get("line_items[0][quantity]"))
		require.Equal(t, "payment", s.Form.Get("mode"))
		require.Equal(t, "http://localhost:3000/orders/"+order+"?paid=1", s.Form.Get("success_url"))
		require.Equal(t, "http://localhost:3000/orders/"+order, s.Form.Get("cancel_url"))
		for _, prefix := range []string{"metadata", "payment_intent_data[metadata]"} {
			require.Equal(t, "orders", s.Form.Get(prefix+"[kiln_resource]"))
			require.Equal(t, order, s.Form.Get(prefix+"[kiln_record_id]"))
		}
		require.Equal(t, "kiln_checkout_orders_"+order+"_1_2999eur", s.IdempotencyKey)
		customers := p.stripe.Calls("/v1/customers")
		require.Len(t, customers, 1)
		require.True(t, strings.HasSuffix(customers[0].Form.Get("email"), "@example.com"))
		require.True(t, strings.HasPrefix(s.Form.Get("customer"), "cus_"))

		again := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusOK, again.status, string(again.raw))
		require.Equal(t, res.body["url"], again.body["url"], "the open session is handed out again")
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 1)
		require.Len(t, p.stripe.Calls("/v1/customers"), 1, "one customer per account")

		now = time.Unix(1234567890, 0).Add(time.Hour) // the session expired: a new attempt
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		sessions = p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, 2)
		require.Equal(t, "kiln_checkout_orders_"+order+"_2_2999eur", sessions[1].IdempotencyKey)

		other := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(p.token("customer"))...)
		require.Equal(t, http.StatusNotFound, other.status, string(other.raw))
		require.Equal(t, http.StatusMethodNotAllowed, p.do("GET", "/api/orders/"+order+"/pay", nil).status)
	})
}

// Amounts are converted exactly: a zero-decimal currency (JPY) sends 1500 for 1500, and an
// amount with a fraction JPY cannot charge is refused, never rounded.
func TestStripePayZeroDecimalCurrency(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, func(s string) string { return strings.Replace(s, "currency: eur", "currency: jpy", 1) })
		order, tok := p.order("1500")
		res := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, "1500", res.body["amount"])
		s := p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, s, 1)
		require.Equal(t, "1500", s[0].Form.Get("line_items[0][price_data][unit_amount]"))
		require.Equal(t, "jpy", s[0].Form.Get("line_items[0][price_data][currency]"))

		odd, tok2 := p.order("1500.50")
		bad := p.do("POST", "/api/orders/"+odd+"/pay", nil, bearer(tok2)...)
		require.Equal(t, http.StatusUnprocessableEntity, bad.status, string(bad.raw))
		require.Equal(t, "amount_not_chargeable", bad.body["error"])
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 1)
	})
}

// checkout.session.completed pays the order once: sent twice, then many times at once, and
// with payment_intent.succeeded for the same payment, the order moves pending → paid once
// (one paid_confirmation job) and a paid order cannot be paid again.
func TestStripeCheckoutCompletedPaysOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, tok := p.order("29.99")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		ev := sessionCompleted("evt_cs_1", order, "pi_once", 2999)
		require.Equal(t, http.StatusOK, p.send(ev))
		require.Equal(t, http.StatusOK, p.send(ev))
		var wg sync.WaitGroup
		codes := make(chan int, 16)
		for i := range 8 {
			wg.Add(2)
			go func() { defer wg.Done(); codes <- p.send(ev) }()
			go func() {
				defer wg.Done()
				codes <- p.send(intentEvent(fmt.Sprintf("evt_pi_%d", i), "payment_intent.succeeded", order, "pi_once", 2999))
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			require.Equal(t, http.StatusOK, c)
		}
		jobsRun := p.settled()
		require.Len(t, jobsRun, 9, "one job per distinct event id")
		require.Equal(t, "paid", p.status(order))
		require.Equal(t, 1, p.paidMails(), "the order became paid once")
		pay := p.payment(order)
		require.Equal(t, "paid", pay["state"])
		require.Equal(t, "pi_once", pay["intent"])

		// A success for another intent (an older session paid too) changes neither the state
		// nor the intent a refund would use; it is recorded as the payment's problem.
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_pi_other", "payment_intent.succeeded", order, "pi_other", 2999)))
		p.settled()
		pay = p.payment(order)
		require.Equal(t, "pi_once", pay["intent"])
		require.Contains(t, pay["problem"], "second payment (intent pi_other)")

		again := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusConflict, again.status, string(again.raw))
		require.Equal(t, "already_paid", again.body["error"])

		// The case: only payment_intent.succeeded, the same event posted twice.
		second, tok2 := p.order("12.50")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+second+"/pay", nil, bearer(tok2)...).status)
		pi := intentEvent("evt_pi_twice", "payment_intent.succeeded", second, "pi_twice", 1250)
		require.Equal(t, http.StatusOK, p.send(pi))
		require.Equal(t, http.StatusOK, p.send(pi))
		require.Len(t, p.settled(), 11, "the repeated event is one job")
		require.Equal(t, "paid", p.status(second))
		require.Equal(t, 2, p.paidMails(), "each order became paid once")
	})
}
