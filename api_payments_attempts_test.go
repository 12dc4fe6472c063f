package kiln_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// attemptCompleted is checkout.session.completed of attempt n of order (Kiln's metadata
// names it), paid with intent.
func attemptCompleted(id, order string, n int, intent string, amount int64) []byte {
	meta := orderMeta(order)
	meta["kiln_attempt"] = strconv.Itoa(n)
	return event(id, "checkout.session.completed", map[string]any{"id": "cs_test_" + intent, "object": "checkout.session",
		"amount_total": amount, "currency": "eur", "payment_status": "paid", "payment_intent": intent, "metadata": meta})
}

// Payments are kept per attempt: a mismatched payment lets the order be paid again (a new
// attempt, its own idempotency key and kiln_attempt metadata), the events of each attempt
// apply to it, a paid order refuses pay with already_paid, each refund refunds one
// attempt's PaymentIntent (the one that moved the order first), and a refunded mismatch
// lets the order be paid again too.
func TestStripePayAgainAfterRefundOrMismatch(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, tok := p.order("29.99")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		require.Equal(t, http.StatusOK, p.send(attemptCompleted("evt_a1", order, 1, "pi_a1", 100)))
		p.settled()
		require.Equal(t, "mismatch", p.payment(order)["state"])

		res := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		sessions := p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, 2)
		require.Equal(t, "kiln_checkout_orders_"+order+"_2_2999eur", sessions[1].IdempotencyKey)
		for _, prefix := range []string{"metadata", "payment_intent_data[metadata]"} {
			require.Equal(t, "2", sessions[1].Form.Get(prefix+"[kiln_attempt]"))
		}

		require.Equal(t, http.StatusOK, p.send(attemptCompleted("evt_a2", order, 2, "pi_a2", 2999)))
		p.settled()
		require.Equal(t, "paid", p.status(order))
		all := p.attempts(order)
		require.Len(t, all, 2)
		require.Equal(t, []any{"paid", "pi_a2"}, []any{all[0]["state"], all[0]["intent"]})
		require.Equal(t, []any{"mismatch", "pi_a1"}, []any{all[1]["state"], all[1]["intent"]})
		again := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusConflict, again.status, string(again.raw))
		require.Equal(t, "already_paid", again.body["error"])

		staff := p.token("staff")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(staff)...).status)
		require.Equal(t, "refunded", p.status(order))
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(staff)...).status)
		refunds := p.stripe.Calls("/v1/refunds")
		require.Len(t, refunds, 2)
		require.Equal(t, "pi_a2", refunds[0].Form.Get("payment_intent"), "the payment that moved the order first")
		require.Equal(t, "pi_a1", refunds[1].Form.Get("payment_intent"), "then the mismatched one")
		require.Equal(t, "refunded", p.status(order))
		for _, a := range p.attempts(order) {
			require.Equal(t, "refunded", a["state"])
		}
		// A late failure of the first attempt's intent changes neither attempt.
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_a3", "payment_intent.payment_failed", order, "pi_a1", 0)))
		p.settled()
		require.Equal(t, "refunded", p.attempts(order)[1]["state"])

		second, tok2 := p.order("12.50")
		require.Equal(t, http.StatusOK, p.send(attemptCompleted("evt_b1", second, 1, "pi_b1", 100)))
		p.settled()
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+second+"/refund", nil, bearer(staff)...).status)
		require.Equal(t, "pending", p.status(second))
		res = p.do("POST", "/api/orders/"+second+"/pay", nil, bearer(tok2)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, "kiln_checkout_orders_"+second+"_2_1250eur", p.stripe.Calls("/v1/checkout/sessions")[2].IdempotencyKey)
		require.Equal(t, []any{int64(2), "open"}, []any{p.payment(second)["attempt"], p.payment(second)["state"]})
	})
}

// An open session is handed out again only to the account that opened it: another account
// that may pay the order (staff) gets a new attempt with its own customer, and so does the
// first account afterwards.
func TestStripeReusedSessionChecksAccount(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		now := time.Unix(1234567890, 0).Add(-time.Hour) // stripe-mock's sessions expire at 1234567890
		p := setupPayments(t, dialect, nil, func(c *kiln.Config) { kiln.SetPaymentsClock(c, func() time.Time { return now }) })
		order, tok := p.order("29.99")
		staff := p.token("staff")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 1, "the same account gets its open session again")

		res := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(staff)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		sessions := p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, 2, "another account gets a session of its own")
		require.Len(t, p.expired(), 1, "and the first account's session is expired")
		require.Equal(t, "kiln_checkout_orders_"+order+"_2_2999eur", sessions[1].IdempotencyKey)
		customers := p.stripe.Calls("/v1/customers")
		require.Len(t, customers, 2)
		require.NotEqual(t, customers[0].IdempotencyKey, customers[1].IdempotencyKey)

		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		sessions = p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, 3)
		require.Equal(t, "kiln_checkout_orders_"+order+"_3_2999eur", sessions[2].IdempotencyKey)
		require.Len(t, p.expired(), 2)
		all := p.attempts(order)
		require.Len(t, all, 3)
		require.Equal(t, all[2]["account"], all[0]["account"])
		require.NotEqual(t, all[1]["account"], all[0]["account"])
	})
}

// A new attempt expires the previous one's session in Stripe while it may still be paid —
// inside the 10 minutes it is no longer handed out, or when the amount changed — so both
// cannot be paid. When Stripe refuses (the session is no longer open) the session is read:
// expired lets the new attempt go on; completed answers 409 payment_pending and opens
// nothing; no answer is 503 and opens nothing.
func TestStripeNewAttemptExpiresPreviousSession(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		expiry := time.Unix(1234567890, 0) // stripe-mock's sessions expire then
		now := expiry.Add(-time.Hour)
		p := setupPayments(t, dialect, nil, func(c *kiln.Config) { kiln.SetPaymentsClock(c, func() time.Time { return now }) })
		pay := func(order, tok string) response {
			return p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		}

		order, tok := p.order("29.99")
		require.Equal(t, http.StatusOK, pay(order, tok).status)
		session := p.stripe.Calls("/v1/checkout/sessions")[0]
		first := p.sessionID(order)
		prod := p.product("Shade", "5.00", 100)
		added := p.do("POST", "/api/order_items", map[string]any{"order": order, "product": prod, "quantity": 1}, bearer(p.admin)...)
		require.Equal(t, http.StatusCreated, added.status, string(added.raw))
		res := pay(order, tok)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, "34.99", res.body["amount"])
		require.Equal(t, []string{first}, p.expired(), "the session for the old amount is expired")
		sessions := p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, 2)
		require.Equal(t, session.IdempotencyKey[:len(session.IdempotencyKey)-len("1_2999eur")]+"2_3499eur", sessions[1].IdempotencyKey)
		require.Equal(t, []any{"open", "expired"}, []any{p.attempts(order)[0]["state"], p.attempts(order)[1]["state"]})

		now = expiry.Add(-5 * time.Minute) // no longer handed out, still payable: expired
		second := p.sessionID(order)
		require.Equal(t, http.StatusOK, pay(order, tok).status)
		require.Equal(t, []string{first, second}, p.expired())
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 3)
		require.Equal(t, "expired", p.attempts(order)[1]["state"])

		third := p.sessionID(order)
		expirePath, sessionPath := "/v1/checkout/sessions/"+third+"/expire", "/v1/checkout/sessions/"+third
		refused := stripeErrorBody("invalid_request_error", "", "")
		complete := `{"id": "` + third + `", "object": "checkout.session", "status": "complete", "payment_status": "paid"}`
		now = expiry.Add(-4 * time.Minute)
		p.stripe.Answer("POST", expirePath, 1, 400, refused)
		p.stripe.Answer("GET", sessionPath, 1, 200, complete)
		res = pay(order, tok)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "payment_pending", res.body["error"])
		require.Len(t, p.stripe.Calls(sessionPath), 1, "the refused session was read")
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 3, "no second payable session")

		p.stripe.Answer("POST", expirePath, 1, 500, stripeErrorBody("api_error", "", ""))
		res = pay(order, tok)
		require.Equal(t, http.StatusServiceUnavailable, res.status, string(res.raw))
		require.Equal(t, "payment_provider_unavailable", res.body["error"])
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 3)

		p.stripe.Answer("POST", expirePath, 1, 400, refused)
		p.stripe.Answer("GET", sessionPath, 1, 200, strings.Replace(complete, `"complete"`, `"expired"`, 1))
		require.Equal(t, http.StatusOK, pay(order, tok).status)
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 4)
		all := p.attempts(order)
		require.Equal(t, []any{int64(4), "open"}, []any{all[0]["attempt"], all[0]["state"]})
		require.Equal(t, "expired", all[1]["state"])
		require.Equal(t, []string{first, second, third, third, third}, p.expired())

		// The fourth attempt's payment failed (the session stays open), then: completed and
		// paid (a second try in that session) is pending; completed unpaid after the failure
		// (a delayed method that failed) lets a new attempt go on.
		fourth := p.sessionID(order)
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_x1", "payment_intent.payment_failed", order, "pi_x1", 0)))
		p.settled()
		require.Equal(t, "failed", p.payment(order)["state"])
		now = expiry.Add(-3 * time.Minute)
		expirePath, sessionPath = "/v1/checkout/sessions/"+fourth+"/expire", "/v1/checkout/sessions/"+fourth
		p.stripe.Answer("POST", expirePath, 2, 400, refused)
		p.stripe.Answer("GET", sessionPath, 1, 200, complete)
		res = pay(order, tok)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "payment_pending", res.body["error"])
		p.stripe.Answer("GET", sessionPath, 1, 200, strings.Replace(complete, `"paid"`, `"unpaid"`, 1))
		require.Equal(t, http.StatusOK, pay(order, tok).status)
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 5)
		require.Equal(t, "expired", p.attempts(order)[1]["state"])
	})
}

// expired lists the Checkout Sessions Kiln asked Stripe to expire, in order.
func (p *payBundle) expired() []string {
	p.stripe.mu.Lock()
	defer p.stripe.mu.Unlock()
	var out []string
	for _, c := range p.stripe.calls {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(c.Path, "/v1/checkout/sessions/"), "/expire"); ok && c.Method == "POST" {
			out = append(out, id)
		}
	}
	return out
}

// sessionID is the Checkout Session of the order's latest attempt.
func (p *payBundle) sessionID(order string) string {
	p.t.Helper()
	rows, err := p.app.Store.Reader().QueryRaw(context.Background(),
		"SELECT COALESCE(session_id, '') FROM kiln_payments WHERE resource = 'orders' AND record_id = ? AND session_id IS NOT NULL ORDER BY attempt DESC", order)
	require.NoError(p.t, err)
	defer rows.Close()
	require.True(p.t, rows.Next())
	var id string
	require.NoError(p.t, rows.Scan(&id))
	return id
}
