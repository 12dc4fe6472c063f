package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every write refuses a query parameter it does not take, before it does anything: a payment,
// a refund, an upload, an admin's retry, replay or webhook change, an account's login or
// password change. They ignored one (?dry_run=1) and went ahead — a retried job re-sent its
// webhook, a payment opened a Stripe session (a helper's trial) — as resource writes and
// actions no longer did. An upload still takes ?name= for a raw body.
func TestEveryWriteRefusesUnknownParameters(t *testing.T) {
	t.Parallel()
	b := setupPayments(t, "sqlite", nil)
	const id = "0192f0a0-0000-7000-8000-00000000dead"
	routes := []struct{ method, path string }{
		{"POST", "/api/orders/" + id + "/pay"},
		{"POST", "/api/orders/" + id + "/refund"},
		{"POST", "/api/orders/" + id + "/files/invoice"},
		{"DELETE", "/api/orders/" + id + "/files/invoice/" + id},
		{"POST", "/api/orders/" + id + "/files/invoice/uploads"},
		{"POST", "/api/orders/" + id + "/files/invoice/uploads/complete"},
		{"POST", "/api/admin/jobs/1/retry"},
		{"POST", "/api/admin/jobs/1/cancel"},
		{"POST", "/api/admin/webhooks"},
		{"PATCH", "/api/admin/webhooks/orders"},
		{"DELETE", "/api/admin/webhooks/orders"},
		{"POST", "/api/admin/webhooks/orders/rotate"},
		{"POST", "/api/admin/webhooks/orders/replay"},
		{"POST", "/api/admin/webhooks/orders/deliveries/msg_1/replay"},
		{"POST", "/api/auth/signup"},
		{"POST", "/api/auth/login"},
		{"POST", "/api/auth/refresh"},
		{"POST", "/api/auth/logout"},
		{"POST", "/api/auth/keys"},
		{"DELETE", "/api/auth/keys/" + id},
		{"POST", "/api/auth/password"},
		{"POST", "/api/auth/password/reset"},
		{"POST", "/api/auth/password/reset/confirm"},
		{"POST", "/api/auth/verify"},
		{"POST", "/api/auth/verify/confirm"},
		{"POST", "/api/auth/invites"},
		{"POST", "/api/auth/email"},
		{"POST", "/api/auth/accounts/" + id + "/password"},
	}
	for _, rt := range routes {
		res := b.do(rt.method, rt.path+"?dry_run=1", map[string]any{})
		require.Equal(t, http.StatusBadRequest, res.status, rt.method+" "+rt.path+": "+string(res.raw))
		require.Equal(t, "malformed_request", res.body["error"], rt.method+" "+rt.path)
		require.Equal(t, map[string]string{"dry_run": "unknown_parameter"}, fieldCodes(res.body), rt.method+" "+rt.path)
	}
	up := b.do("POST", "/api/orders/"+id+"/files/invoice?name=invoice.pdf", []byte("%PDF-1.4\n"), "Content-Type", "application/pdf")
	require.Equal(t, http.StatusNotFound, up.status, "a raw upload's ?name= is known: the order is what is missing: "+string(up.raw))
}
