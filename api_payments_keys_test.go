package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A refund writes — Stripe gives the money back and the record moves to refunded — so an API
// key needs a write scope of the resource: a staff key scoped orders:read passed (the route
// checked the role and the view only) and got to the refund, 409 not_refundable here for an
// unpaid order, a refund for a paid one, where orders:write was 403 for want of the view.
// No Stripe call is made: the order is unpaid, so no stripe-mock is needed.
func TestAPIKeyRefundNeedsAWriteScope(t *testing.T) {
	t.Parallel()
	env := map[string]string{"STRIPE_API_URL": "http://127.0.0.1:9", "STRIPE_SECRET_KEY": stripeKey,
		"STRIPE_WEBHOOK_SECRET": stripeWebhookSecret, "SHOP_WEBHOOK_SECRET": testWebhookSecret}
	b := setupEnv(t, "sqlite", "", nil, env)
	a := b.product("A", "3", 10)
	order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(a, 1)}}, bearer(b.token("customer"))...)
	require.Equal(t, http.StatusCreated, order.status, string(order.raw))
	id := order.body["id"].(string)
	for _, c := range []struct {
		scopes []string
		status int
		code   string
	}{
		{[]string{"orders:read"}, http.StatusForbidden, "forbidden"},
		{[]string{"orders:view"}, http.StatusForbidden, "forbidden"},
		{[]string{"orders:cancel", "orders:read"}, http.StatusForbidden, "forbidden"},
		{[]string{"orders:read", "orders:write"}, http.StatusConflict, "not_refundable"},
		{[]string{"orders:*"}, http.StatusConflict, "not_refundable"},
	} {
		res := b.do("POST", "/api/auth/keys", map[string]any{"name": "k", "role": "staff", "scopes": c.scopes})
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		r := b.do("POST", "/api/orders/"+id+"/refund", nil, bearer(res.body["key"].(string))...)
		require.Equal(t, c.status, r.status, "%v: %s", c.scopes, r.raw)
		require.Equal(t, c.code, r.body["error"], c.scopes)
	}
}
