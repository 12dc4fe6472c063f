package kiln_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/jobs"
)

// Events that arrive out of order move the order only forward: a refund before the
// success takes it through paid to refunded, and the late success changes nothing; a
// success after a failure pays, and a failure after the success changes nothing.
func TestStripeEventsOutOfOrder(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		refundedFirst, _ := p.order("29.99")
		require.Equal(t, http.StatusOK, p.send(chargeRefunded("evt_r1", "pi_r1", 2999, orderMeta(refundedFirst))))
		p.settled()
		require.Equal(t, "refunded", p.status(refundedFirst))
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_r2", "payment_intent.succeeded", refundedFirst, "pi_r1", 2999)))
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_r3", refundedFirst, "pi_r1", 2999)))
		p.settled()
		require.Equal(t, "refunded", p.status(refundedFirst))
		require.Equal(t, "refunded", p.payment(refundedFirst)["state"])

		failedFirst, _ := p.order("29.99")
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_f1", "payment_intent.payment_failed", failedFirst, "pi_f1", 0)))
		p.settled()
		require.Equal(t, "pending", p.status(failedFirst))
		require.Equal(t, "failed", p.payment(failedFirst)["state"])
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_f2", "payment_intent.succeeded", failedFirst, "pi_f1", 2999)))
		p.settled()
		require.Equal(t, "paid", p.status(failedFirst))
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_f3", "payment_intent.payment_failed", failedFirst, "pi_f1", 0)))
		p.settled()
		require.Equal(t, "paid", p.status(failedFirst))
		require.Equal(t, "paid", p.payment(failedFirst)["state"])
		require.Equal(t, 2, p.paidMails(), "each order became paid once")
	})
}

// A payment of another amount than the order's total is flagged, and the order stays
// pending; staff can refund it.
func TestStripeAmountMismatchIsFlagged(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, _ := p.order("29.99")
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_m1", order, "pi_m1", 100)))
		p.settled()
		require.Equal(t, "pending", p.status(order))
		pay := p.payment(order)
		require.Equal(t, "mismatch", pay["state"])
		require.Equal(t, "paid 1 eur, but orders "+order+" costs 29.99 eur", pay["problem"])
		require.Equal(t, 0, p.paidMails())

		res := p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(p.token("staff"))...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, "refunded", res.body["state"])
		require.Equal(t, "1", res.body["amount"], "the refund returns what was paid, not the order's total (a new user's trial)")
		require.Equal(t, "pi_m1", p.stripe.Calls("/v1/refunds")[0].Form.Get("payment_intent"))
		require.Equal(t, "pending", p.status(order), "a mismatched payment never moved the order; its refund does not either")
	})
}

// The refund action: customers may not refund; staff refund a paid order through Stripe's
// refund API (the PaymentIntent, an idempotency key) and the order becomes refunded; the
// charge.refunded event Stripe then sends (without Kiln's metadata: placed by its
// PaymentIntent) changes nothing more, and a second refund is refused.
func TestStripeRefund(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, tok := p.order("29.99")
		require.Equal(t, http.StatusConflict, p.do("POST", "/api/orders/"+order+"/refund", nil).status, "nothing paid yet")
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_p1", order, "pi_refund", 2999)))
		p.settled()
		require.Equal(t, "paid", p.status(order))

		denied := p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(tok)...)
		require.Equal(t, http.StatusForbidden, denied.status, string(denied.raw))
		require.Empty(t, p.stripe.Calls("/v1/refunds"))

		staff := p.token("staff")
		res := p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(staff)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, "refunded", res.body["state"])
		require.Equal(t, "29.99", res.body["amount"])
		calls := p.stripe.Calls("/v1/refunds")
		require.Len(t, calls, 1)
		require.Equal(t, "pi_refund", calls[0].Form.Get("payment_intent"))
		require.Equal(t, order, calls[0].Form.Get("metadata[kiln_record_id]"))
		require.Equal(t, "kiln_refund_orders_"+order+"_pi_refund", calls[0].IdempotencyKey)
		require.Equal(t, "refunded", p.status(order))
		require.NotEmpty(t, p.payment(order)["refund"])

		require.Equal(t, http.StatusOK, p.send(chargeRefunded("evt_p2", "pi_refund", 2999, map[string]any{})))
		jobsRun := p.settled()
		for _, j := range jobsRun {
			require.Equal(t, "completed", j.State, "%+v", j.Errors)
		}
		require.Equal(t, "refunded", p.status(order))
		again := p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(staff)...)
		require.Equal(t, http.StatusConflict, again.status, string(again.raw))
		require.Equal(t, "not_refundable", again.body["error"])
		require.Len(t, p.stripe.Calls("/v1/refunds"), 1)
	})
}

// An event with a wrong (or no) signature is refused and moves nothing.
func TestStripeWrongSignatureRefused(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, _ := p.order("29.99")
		body := sessionCompleted("evt_bad", order, "pi_bad", 2999)
		for _, sig := range []string{stripeSign("whsec_someone_else", time.Now(), body), ""} {
			req, err := http.NewRequest("POST", p.srv.URL+"/hooks/payments", bytes.NewReader(body))
			require.NoError(t, err)
			if sig != "" {
				req.Header.Set("Stripe-Signature", sig)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusBadRequest, res.StatusCode)
		}
		require.Empty(t, p.settled())
		require.Equal(t, "pending", p.status(order))
		require.Nil(t, p.payment(order))
	})
}

// Concurrent pay calls of one account (for several orders) create one Stripe customer,
// used by every session.
func TestStripeCustomerCreatedOnceUnderConcurrentPay(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		account := p.account("customer")
		tok := p.tokenFor(account)
		prod := p.product("Chair", "12.50", 100)
		var orders []string
		for range 6 {
			res := p.do("POST", "/api/orders", map[string]any{"items": []any{item(prod, 1)}}, bearer(tok)...)
			require.Equal(t, http.StatusCreated, res.status, string(res.raw))
			orders = append(orders, res.body["id"].(string))
		}
		for _, c := range p.payAll(tok, orders) {
			require.Equal(t, http.StatusOK, c)
		}
		customers := p.stripe.Calls("/v1/customers")
		require.Len(t, customers, 1, "one customer for the account")
		require.Equal(t, "kiln_customer_"+account, customers[0].IdempotencyKey)
		require.Equal(t, account, customers[0].Form.Get("metadata[kiln_account_id]"))
		sessions := p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, len(orders))
		for _, s := range sessions {
			require.Equal(t, sessions[0].Form.Get("customer"), s.Form.Get("customer"))
		}
		var n int
		rows, err := p.app.Store.Reader().QueryRaw(context.Background(), "SELECT COUNT(*) FROM kiln_payment_customers WHERE account_id = ? AND customer_id IS NOT NULL", account)
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		require.NoError(t, rows.Scan(&n))
		require.Equal(t, 1, n)
	})
}

// payAll calls pay on every order at once and returns the statuses.
func (p *payBundle) payAll(tok string, orders []string) []int {
	var wg sync.WaitGroup
	codes := make([]int, len(orders))
	for i, o := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", p.srv.URL+"/api/orders/"+o+"/pay", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
				codes[i] = res.StatusCode
			}
		}()
	}
	wg.Wait()
	return codes
}

// Without STRIPE_SECRET_KEY pay answers 503 payments_not_configured; with Stripe
// unreachable, 503 payment_provider_unavailable with Retry-After, and nothing of the
// failure (nor the key) in the answer.
func TestStripePayWhenStripeIsMissing(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		plain := &payBundle{testBundle: setup(t, dialect, "")}
		order, tok := plain.order("29.99")
		res := plain.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusServiceUnavailable, res.status, string(res.raw))
		require.Equal(t, "payments_not_configured", res.body["error"])

		down := &payBundle{testBundle: setupHooks(t, dialect, hookOpts{env: map[string]string{
			"STRIPE_API_URL": "http://" + freePort(t), "STRIPE_SECRET_KEY": stripeKey, "SHOP_WEBHOOK_SECRET": testWebhookSecret}})}
		order, tok = down.order("29.99")
		res = down.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusServiceUnavailable, res.status, string(res.raw))
		require.Equal(t, "payment_provider_unavailable", res.body["error"])
		require.Equal(t, "2", res.header.Get("Retry-After"))
		require.NotContains(t, string(res.raw), stripeKey)
		require.NotContains(t, string(res.raw), "127.0.0.1")
	})
}

// A Stripe event of another product on the same account — a Checkout Session or PaymentIntent
// without Kiln's metadata — is acknowledged and its job completes at once: it was retried ten
// times into the dead jobs as a payment Kiln did not know yet (a new user's trial). Nothing moves.
func TestStripeEventOfAnotherProductIsIgnored(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, _ := p.order("29.99")
		for i, body := range [][]byte{
			event("evt_other_pi", "payment_intent.succeeded", map[string]any{"id": "pi_other", "object": "payment_intent",
				"amount": 500, "amount_received": 500, "currency": "eur", "metadata": map[string]any{}}),
			event("evt_other_cs", "checkout.session.completed", map[string]any{"id": "cs_other", "object": "checkout.session",
				"amount_total": 500, "currency": "eur", "payment_status": "paid", "payment_intent": "pi_other"}),
		} {
			require.Equal(t, http.StatusOK, p.send(body), i)
		}
		for _, j := range p.settled() {
			require.Equal(t, jobs.StateCompleted, j.State, "completed, not retried: %v", j.Errors)
			require.Empty(t, j.Errors)
		}
		require.Equal(t, "pending", p.status(order))
	})
}

// A payment that arrives after its record was deleted is cancelled as before (there is no
// record to move), and its attempt says so — paid, with the problem — instead of staying open
// with nothing noted: the money came in and only Stripe can give it back (a new user's trial).
// Once Stripe's charge.refunded arrives the attempt is refunded and leaves ?problem=true.
func TestPaymentOfADeletedRecordIsFlagged(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, tok := p.order("29.99")
		opened := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusOK, opened.status, string(opened.raw))
		got := p.do("GET", "/api/orders/"+order+"?expand=items", nil)
		for _, it := range got.body["items"].([]any) {
			require.Equal(t, http.StatusNoContent, p.do("DELETE", "/api/order_items/"+it.(map[string]any)["id"].(string), nil).status)
		}
		require.Equal(t, http.StatusNoContent, p.do("DELETE", "/api/orders/"+order, nil).status)
		session := opened.body["session_id"].(string)
		body := event("evt_gone", "checkout.session.completed", map[string]any{"id": session, "object": "checkout.session",
			"amount_total": 2999, "currency": "eur", "payment_status": "paid", "payment_intent": "pi_gone", "metadata": orderMeta(order)})
		require.Equal(t, http.StatusOK, p.send(body))
		done := p.settled()
		require.Len(t, done, 1)
		require.Equal(t, jobs.StateCancelled, done[0].State)
		pay := p.payment(order)
		require.Equal(t, "paid", pay["state"])
		require.Equal(t, "paid 29.99 eur after orders "+order+" was deleted: refund it in Stripe", pay["problem"])
		problems := p.do("GET", "/api/admin/payments?problem=true", nil, bearer(p.admin)...)
		require.Len(t, problems.body["items"], 1, string(problems.raw))

		// Refunded in Stripe (the refund action has no record to go through): the attempt is
		// refunded, its problem kept but no longer listed as one needing someone.
		require.Equal(t, http.StatusOK, p.send(chargeRefunded("evt_gone_refund", "pi_gone", 2999, map[string]any{})))
		p.settled()
		pay = p.payment(order)
		require.Equal(t, "refunded", pay["state"])
		require.Contains(t, pay["problem"], "was deleted")
		problems = p.do("GET", "/api/admin/payments?problem=true", nil, bearer(p.admin)...)
		require.Empty(t, problems.body["items"], string(problems.raw))
	})
}
