package kiln_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/jobs"
)

// A cancelled order holding a stray payment (paid after it was cancelled: recorded paid, the
// order not moved) refuses pay as not_payable — it is cancelled — not already_paid, as it
// does once that payment is refunded (a new user's trial).
func TestStripePayOnACancelledOrderWithAStrayPayment(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, tok := p.order("29.99")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/cancel", nil, bearer(tok)...).status)
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_stray", order, "pi_stray", 2999)))
		p.settled()
		require.Equal(t, "cancelled", p.status(order))
		require.Equal(t, "paid", p.payment(order)["state"])

		notPayable := func() {
			t.Helper()
			res := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
			require.Equal(t, http.StatusConflict, res.status, string(res.raw))
			require.Equal(t, "not_payable", res.body["error"], string(res.raw))
			require.Equal(t, "the record cannot be paid now: orders is cancelled", res.body["detail"])
		}
		notPayable()
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(p.token("staff"))...).status)
		require.Equal(t, "refunded", p.payment(order)["state"])
		notPayable()
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 1, "no session opened for the cancelled order")
	})
}

// pay and refund take no body: one sent ({"amount": 1}) is 400 malformed_request and nothing
// is asked of Stripe — it was ignored while the call went ahead (a new user's trial).
// Whitespace alone is no body.
func TestStripePayAndRefundRefuseABody(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, tok := p.order("29.99")
		staff := p.token("staff")
		for _, c := range []struct{ action, tok string }{{"pay", tok}, {"refund", staff}} {
			for _, body := range []any{map[string]any{"amount": 1}, "x", "null"} {
				res := p.do("POST", "/api/orders/"+order+"/"+c.action, body, bearer(c.tok)...)
				require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
				require.Equal(t, "malformed_request", res.body["error"])
				require.Equal(t, c.action+" takes no body", res.body["detail"])
			}
		}
		require.Empty(t, p.stripe.Calls("/v1/checkout/sessions"))
		require.Empty(t, p.stripe.Calls("/v1/refunds"))

		res := p.do("POST", "/api/orders/"+order+"/pay", " \r\n\t", bearer(tok)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_nobody", order, "pi_nobody", 2999)))
		p.settled()
		res = p.do("POST", "/api/orders/"+order+"/refund", "", bearer(staff)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Len(t, p.stripe.Calls("/v1/refunds"), 1)
	})
}

// sessionEvent is an event of typ about the Checkout Session id of the order's attempt 1.
func sessionEvent(id, typ, session, order, status, intent string) []byte {
	meta := orderMeta(order)
	meta["kiln_attempt"] = "1"
	obj := map[string]any{"id": session, "object": "checkout.session", "amount_total": 2999, "currency": "eur",
		"payment_status": status, "metadata": meta}
	if intent != "" {
		obj["payment_intent"] = intent
	}
	return event(id, typ, obj)
}

// checkout.session.expired (the customer abandoned the checkout) moves the attempt of that
// session from open or failed to expired, so ?state=expired lists abandoned checkouts — it
// stayed open forever (a new user's trial); the order stays pending. A late payment of that
// session still applies; an expiry after it, or of a session no attempt holds, changes nothing.
func TestStripeCheckoutSessionExpired(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		order, tok := p.order("29.99")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...).status)
		session := p.sessionID(order)
		require.Equal(t, http.StatusOK, p.send(sessionEvent("evt_x1", "checkout.session.expired", session, order, "unpaid", "")))
		p.settled()
		require.Equal(t, "expired", p.payment(order)["state"])
		require.Equal(t, "pending", p.status(order))
		res := p.do("GET", "/api/admin/payments?state=expired", nil, bearer(p.admin)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Len(t, res.body["items"], 1, string(res.raw))

		require.Equal(t, http.StatusOK, p.send(sessionEvent("evt_x2", "checkout.session.completed", session, order, "paid", "pi_x2")))
		require.Equal(t, http.StatusOK, p.send(sessionEvent("evt_x3", "checkout.session.expired", session, order, "unpaid", "")))
		p.settled()
		require.Equal(t, "paid", p.payment(order)["state"])
		require.Equal(t, "paid", p.status(order))

		failed, tok2 := p.order("12.50")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+failed+"/pay", nil, bearer(tok2)...).status)
		require.Equal(t, http.StatusOK, p.send(intentEvent("evt_x4", "payment_intent.payment_failed", failed, "pi_x4", 0)))
		p.settled()
		require.Equal(t, "failed", p.payment(failed)["state"])
		require.Equal(t, http.StatusOK, p.send(sessionEvent("evt_x5", "checkout.session.expired", "cs_other", failed, "unpaid", "")))
		p.settled()
		require.Equal(t, "failed", p.payment(failed)["state"], "another session's expiry")
		require.Equal(t, http.StatusOK, p.send(sessionEvent("evt_x6", "checkout.session.expired", p.sessionID(failed), failed, "unpaid", "")))
		p.settled()
		require.Equal(t, "expired", p.payment(failed)["state"])

		never, _ := p.order("5.00")
		require.Equal(t, http.StatusOK, p.send(sessionEvent("evt_x7", "checkout.session.expired", "cs_never", never, "unpaid", "")))
		for _, j := range p.settled() {
			require.Equal(t, "completed", string(j.State), "%v", j.Errors)
		}
		require.Empty(t, p.attempts(never))
	})
}

// A Stripe payment of a record id Kiln never issued (its metadata names a payable resource,
// no record, no attempt) is recorded as an attempt, paid, with the problem, and listed under
// ?problem=true — it was cancelled as a job and appeared nowhere (a new user's trial). The job
// is cancelled as for a deleted record; its refund in Stripe records the attempt refunded.
func TestStripePaymentOfAnUnknownRecordIsFlagged(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		ghost := uuid.NewString()
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_ghost", ghost, "pi_ghost", 2550)))
		done := p.settled()
		require.Len(t, done, 1)
		require.Equal(t, jobs.StateCancelled, done[0].State)
		res := p.do("GET", "/api/admin/payments?problem=true", nil, bearer(p.admin)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		items := res.body["items"].([]any)
		require.Len(t, items, 1, string(res.raw))
		require.Equal(t, map[string]any{"record_id": ghost, "state": "paid", "paid_amount": "25.5", "intent_id": "pi_ghost", "moved": false,
			"problem": "paid 25.5 eur for orders " + ghost + ", which does not exist: refund it in Stripe"},
			pick(items[0].(map[string]any), "record_id", "state", "paid_amount", "intent_id", "moved", "problem"))

		require.Equal(t, http.StatusOK, p.send(chargeRefunded("evt_ghost_refund", "pi_ghost", 2550, map[string]any{})))
		p.settled()
		require.Equal(t, "refunded", p.payment(ghost)["state"])
		res = p.do("GET", "/api/admin/payments?problem=true", nil, bearer(p.admin)...)
		require.Empty(t, res.body["items"], string(res.raw))
	})
}
