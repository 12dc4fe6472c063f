package kiln_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// The operators read payment attempts through GET /api/admin/payments: newest first, filtered
// by resource and record, state and problem, paged by an opaque cursor that visits each
// attempt once; only administering accounts get in, and every bad parameter is a 400 naming it.
func TestPaymentsAdminListsAttempts(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		p := setupPayments(t, dialect, nil)
		paid, tok := p.order("29.99")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+paid+"/pay", nil, bearer(tok)...).status)
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_l1", paid, "pi_l1", 2999)))
		odd, _ := p.order("12.50")
		require.Equal(t, http.StatusOK, p.send(sessionCompleted("evt_l2", odd, "pi_l2", 100)))
		p.settled() // the event's job records the attempt: before the next order's
		open, tok3 := p.order("5.00")
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+open+"/pay", nil, bearer(tok3)...).status)
		p.settled()

		list := func(query string) []map[string]any {
			t.Helper()
			res := p.do("GET", "/api/admin/payments"+query, nil, bearer(p.admin)...)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			var out []map[string]any
			for _, it := range res.body["items"].([]any) {
				out = append(out, it.(map[string]any))
			}
			return out
		}
		all := list("")
		require.Len(t, all, 3)
		require.Equal(t, []any{open, odd, paid}, []any{all[0]["record_id"], all[1]["record_id"], all[2]["record_id"]}, "newest first")
		require.Equal(t, map[string]any{"state": "paid", "amount": "29.99", "paid_amount": "29.99", "currency": "eur", "intent_id": "pi_l1",
			"moved": true, "problem": nil, "attempt": json.Number("1")}, pick(all[2], "state", "amount", "paid_amount", "currency", "intent_id", "moved", "problem", "attempt"))
		require.Equal(t, "open", all[0]["state"])
		require.Nil(t, all[0]["paid_amount"])
		require.NotEmpty(t, all[0]["session_id"])
		require.NotEmpty(t, all[0]["session_expires_at"])

		problems := list("?problem=true")
		require.Len(t, problems, 1)
		require.Equal(t, []any{odd, "mismatch", "1", "paid 1 eur, but orders " + odd + " costs 12.5 eur"},
			[]any{problems[0]["record_id"], problems[0]["state"], problems[0]["paid_amount"], problems[0]["problem"]})
		require.Len(t, list("?problem=false"), 2)
		require.Len(t, list("?state=paid"), 1)
		require.Len(t, list("?resource=orders&record_id="+url.QueryEscape(paid)), 1)
		require.Empty(t, list("?resource=orders&record_id=nope"))

		var seen []any
		cursor := ""
		for pages := 0; pages < 5; pages++ {
			res := p.do("GET", "/api/admin/payments?limit=2"+cursor, nil, bearer(p.admin)...)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			for _, it := range res.body["items"].([]any) {
				seen = append(seen, it.(map[string]any)["record_id"])
			}
			next, ok := res.body["next_cursor"].(string)
			if !ok {
				break
			}
			cursor = "&cursor=" + next
		}
		require.Equal(t, []any{open, odd, paid}, seen, "each attempt once, in order")

		// a cursor whose strings hold a NUL (no next_cursor does) is refused as the cursor
		nulCursor := base64.RawURLEncoding.EncodeToString([]byte(`{"t":1,"r":"orders\u0000","i":"a","a":1}`))
		for query, field := range map[string]string{"?state=bogus": "state", "?resource=products": "resource", "?record_id=" + paid: "record_id",
			"?cursor=xyz": "cursor", "?cursor=" + nulCursor: "cursor", "?limit=0": "limit", "?limit=501": "limit", "?problem=maybe": "problem", "?foo=1": "foo", "?state=paid&state=open": "state"} {
			res := p.do("GET", "/api/admin/payments"+query, nil, bearer(p.admin)...)
			require.Equal(t, http.StatusBadRequest, res.status, query+": "+string(res.raw))
			require.Equal(t, "validation_failed", res.body["error"], query)
			fields, _ := res.body["errors"].([]any)
			require.Len(t, fields, 1, query+": "+string(res.raw))
			require.Equal(t, field, fields[0].(map[string]any)["field"], query)
		}
		// A problem dealt with (the attempt refunded) is no longer listed as one; its text stays.
		require.Equal(t, http.StatusOK, p.do("POST", "/api/orders/"+odd+"/refund", nil, bearer(p.token("staff"))...).status)
		require.Empty(t, list("?problem=true"))
		dealt := list("?problem=false")
		require.Len(t, dealt, 3)
		require.Equal(t, []any{odd, "refunded", "paid 1 eur, but orders " + odd + " costs 12.5 eur"},
			[]any{dealt[1]["record_id"], dealt[1]["state"], dealt[1]["problem"]})

		require.Equal(t, http.StatusForbidden, p.do("GET", "/api/admin/payments", nil, bearer(tok)...).status, "a customer")
		require.Equal(t, http.StatusForbidden, p.do("GET", "/api/admin/payments", nil, bearer(p.token("staff"))...).status, "staff")
		require.Equal(t, http.StatusUnauthorized, p.anon("GET", "/api/admin/payments", nil).status)
		require.Equal(t, http.StatusMethodNotAllowed, p.do("POST", "/api/admin/payments", nil, bearer(p.admin)...).status)
	})
}

// pick is m's keys among names.
func pick(m map[string]any, names ...string) map[string]any {
	out := map[string]any{}
	for _, n := range names {
		out[n] = m[n]
	}
	return out
}
