package rest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/payments"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/value"
)

// registerPaymentsAdmin serves GET {base}/admin/payments to accounts of the administering
// roles when the spec takes payments.
func (h *Handler) registerPaymentsAdmin(mux *routeMux, base string) {
	if h.payments == nil {
		return
	}
	p := base + "/admin/payments"
	mux.HandleFunc("GET "+p, h.authenticate(h.adminOnly("payments", h.listPayments)))
	mux.refuse(p, h.methodNotAllowed("GET, HEAD"))
}

// listPayments answers GET {base}/admin/payments?resource=&record_id=&state=&problem=&limit=&cursor=,
// the attempts newest first.
func (h *Handler) listPayments(w http.ResponseWriter, r *http.Request) {
	o, errs := paymentsQuery(r.URL.Query())
	var list []*payments.Listed
	var err error
	if len(errs) == 0 {
		list, err = h.payments.List(r.Context(), o)
	}
	var fe *payments.FilterError
	if errors.As(err, &fe) {
		errs = append(errs, service.FieldError{Field: fe.Field, Code: "enum", Message: fe.Message})
	}
	if h.listRefused(w, r, errs, err) {
		return
	}
	items := make([]map[string]any, len(list))
	for i, l := range list {
		items[i] = paymentItem(l)
	}
	body := map[string]any{"items": items}
	if n := len(list); n > 0 && n == o.Limit {
		body["next_cursor"] = paymentCursor(list[n-1].Key())
	}
	h.jobJSON(w, r, body)
}

// paymentsQuery reads the listing's parameters.
func paymentsQuery(q url.Values) (payments.ListOpts, []service.FieldError) {
	o := payments.ListOpts{Resource: q.Get("resource"), RecordID: q.Get("record_id"), State: q.Get("state")}
	errs := adminParams(q, []string{"resource", "record_id", "state", "problem", "limit", "cursor"})
	if o.RecordID != "" && o.Resource == "" {
		errs = append(errs, service.FieldError{Field: "record_id", Code: "required", Message: "give resource with record_id"})
	}
	if s := q.Get("problem"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, service.FieldError{Field: "problem", Code: "format", Message: "must be true or false"})
		}
		o.Problem = &b
	}
	n, fe := positive(q, "limit")
	switch {
	case fe != nil:
		errs = append(errs, *fe)
	case n > maxAdminPage:
		errs = append(errs, service.FieldError{Field: "limit", Code: "range", Message: "must be 1 to " + strconv.Itoa(maxAdminPage)})
	default:
		o.Limit = int(cmp.Or(n, 50))
	}
	if c := q.Get("cursor"); c != "" {
		k, ok := readPaymentCursor(c)
		if !ok {
			errs = append(errs, service.FieldError{Field: "cursor", Code: "format", Message: "not a cursor this list gave (next_cursor)"})
		}
		o.After = k
	}
	return o, errs
}

func paymentCursor(k payments.Key) string {
	b, _ := json.Marshal(k) // a struct of strings and integers always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

func readPaymentCursor(c string) (*payments.Key, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, false
	}
	var k payments.Key
	if json.Unmarshal(b, &k) != nil || k.Resource == "" || k.RecordID == "" || k.Attempt <= 0 {
		return nil, false
	}
	// text the database cannot store (a NUL) never came from next_cursor, and would reach
	// the query as a generic 400
	if value.TextProblem(k.Resource) != "" || value.TextProblem(k.RecordID) != "" {
		return nil, false
	}
	return &k, true
}

// paymentItem is an attempt as the listing answers it: amounts as the record's decimals in
// the currency's units, times in RFC 3339, what is not known null.
func paymentItem(l *payments.Listed) map[string]any {
	orNull := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	m := map[string]any{"resource": l.Resource, "record_id": l.RecordID, "attempt": l.Attempt, "state": l.State,
		"amount": payments.FromMinor(l.Amount, l.Currency), "currency": l.Currency, "paid_amount": nil,
		"account_id": orNull(l.AccountID), "session_id": orNull(l.SessionID), "session_expires_at": nil,
		"intent_id": orNull(l.IntentID), "refund_id": orNull(l.RefundID), "problem": orNull(l.Problem), "moved": l.Moved,
		"created_at": l.CreatedAt, "updated_at": l.UpdatedAt}
	if l.PaidAmount != 0 {
		m["paid_amount"] = payments.FromMinor(l.PaidAmount, l.Currency)
	}
	if l.SessionExpiresAt != 0 {
		m["session_expires_at"] = time.Unix(l.SessionExpiresAt, 0).UTC()
	}
	return m
}
