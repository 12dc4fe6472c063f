package kiln_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Stripe's error answers map to stable codes: only no answer, a 5xx and 429 are 503
// payment_provider_unavailable (with Retry-After: the same request again may pass); a
// refused key is 503 payments_not_configured; an amount Stripe will not charge is 422
// amount_not_chargeable; any other 4xx is 409 payment_refused with Stripe's type and code;
// a charge already refunded is 409 already_refunded.
func TestStripeErrorsMapped(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		tests := []struct {
			name                string
			status              int
			typ, code, param    string
			wantStatus          int
			wantCode, wantRetry string
			wantDetail          string
		}{
			{name: "InvalidRequest", status: 400, typ: "invalid_request_error", code: "parameter_invalid_integer", param: "line_items[0][price_data][unit_amount]",
				wantStatus: 409, wantCode: "payment_refused", wantDetail: "the payment provider refused the call (stripe: invalid_request_error/parameter_invalid_integer)"},
			{name: "ResourceMissing", status: 404, typ: "invalid_request_error", code: "resource_missing", param: "id",
				wantStatus: 409, wantCode: "payment_refused", wantDetail: "the payment provider refused the call (stripe: invalid_request_error/resource_missing)"},
			{name: "AmountTooSmall", status: 400, typ: "invalid_request_error", code: "amount_too_small",
				wantStatus: 422, wantCode: "amount_not_chargeable", wantDetail: "the amount cannot be charged in its currency (stripe: invalid_request_error/amount_too_small)"},
			{name: "KeyRefused", status: 401, typ: "invalid_request_error", wantStatus: 503, wantCode: "payments_not_configured"},
			{name: "ServerError", status: 500, typ: "api_error", wantStatus: 503, wantCode: "payment_provider_unavailable", wantRetry: "2"},
			{name: "RateLimited", status: 429, typ: "invalid_request_error", code: "rate_limit", wantStatus: 503, wantCode: "payment_provider_unavailable", wantRetry: "2"},
		}
		for _, tt := range tests {
			order, tok := p.order("29.99")
			p.stripe.Answer("POST", "/v1/checkout/sessions", 1, tt.status, stripeErrorBody(tt.typ, tt.code, tt.param))
			res := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
			require.Equal(t, tt.wantStatus, res.status, "%s: %s", tt.name, res.raw)
			require.Equal(t, tt.wantCode, res.body["error"], tt.name)
			require.Equal(t, tt.wantRetry, res.header.Get("Retry-After"), tt.name)
			if tt.wantDetail != "" {
				require.Equal(t, tt.wantDetail, res.body["detail"], tt.name)
			}
			require.NotContains(t, string(res.raw), "injected", "Stripe's message stays out of the answer")
			require.NotContains(t, string(res.raw), stripeKey)
			sessions := p.stripe.Calls("/v1/checkout/sessions")
			require.Len(t, sessions, 1, tt.name+": a refusal is not retried")
			// The same request again (Stripe answering now) opens the attempt's session.
			again := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
			require.Equal(t, http.StatusOK, again.status, "%s: %s", tt.name, again.raw)
			sessions = p.stripe.Calls("/v1/checkout/sessions")
			require.Equal(t, sessions[0].IdempotencyKey, sessions[1].IdempotencyKey)
			p.stripe.mu.Lock()
			p.stripe.calls = nil
			p.stripe.mu.Unlock()
		}

		order, _ := p.order("29.99")
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_e1", order, "pi_e1", 2999)))
		p.settled()
		p.stripe.Answer("POST", "/v1/refunds", 1, 400, stripeErrorBody("invalid_request_error", "charge_already_refunded", ""))
		res := p.do("POST", "/api/orders/"+order+"/refund", nil, bearer(p.token("staff"))...)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "already_refunded", res.body["error"])
		require.Equal(t, "paid", p.status(order), "the charge.refunded event moves it")
		require.Equal(t, "paid", p.payment(order)["state"])
	})
}

// When Stripe says the account's customer is gone (deleted in its Dashboard), pay drops
// the account's customer, makes a new one once (its own idempotency key), and opens the
// session with it; a second refusal is 409 payment_refused, not a loop.
func TestStripeDeletedCustomerReplacedOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		missing := stripeErrorBody("invalid_request_error", "resource_missing", "customer")
		account := p.account("customer")
		tok := p.tokenFor(account)
		prod := p.product("Desk", "29.99", 100)
		newOrder := func() string {
			res := p.do("POST", "/api/orders", map[string]any{"items": []any{item(prod, 1)}}, bearer(tok)...)
			require.Equal(t, http.StatusCreated, res.status, string(res.raw))
			return res.body["id"].(string)
		}
		order := newOrder()
		p.stripe.Answer("POST", "/v1/checkout/sessions", 1, 400, missing)
		res := p.do("POST", "/api/orders/"+order+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		sessions := p.stripe.Calls("/v1/checkout/sessions")
		require.Len(t, sessions, 2)
		require.Equal(t, []int{400, 200}, []int{sessions[0].Status, sessions[1].Status})
		gone := sessions[0].Form.Get("customer")
		customers := p.stripe.Calls("/v1/customers")
		require.Len(t, customers, 2, "one new customer")
		require.Equal(t, "kiln_customer_"+account, customers[0].IdempotencyKey)
		require.Equal(t, "kiln_customer_"+account+"_after_"+gone, customers[1].IdempotencyKey)
		require.Equal(t, sessions[0].IdempotencyKey+"_"+sessions[1].Form.Get("customer"), sessions[1].IdempotencyKey)
		var n int
		rows, err := p.app.Store.Reader().QueryRaw(context.Background(), "SELECT COUNT(*) FROM kiln_payment_customers WHERE account_id = ? AND customer_id IS NOT NULL", account)
		require.NoError(t, err)
		require.True(t, rows.Next())
		require.NoError(t, rows.Scan(&n))
		require.NoError(t, rows.Close())
		require.Equal(t, 1, n)

		second := newOrder()
		p.stripe.Answer("POST", "/v1/checkout/sessions", 2, 400, missing)
		res = p.do("POST", "/api/orders/"+second+"/pay", nil, bearer(tok)...)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "payment_refused", res.body["error"])
		require.Len(t, p.stripe.Calls("/v1/checkout/sessions"), 4, "one retry")
		require.Len(t, p.stripe.Calls("/v1/customers"), 3, "one new customer per refusal")
	})
}
