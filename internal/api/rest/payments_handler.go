package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/payments"
	"github.com/kiln-dev/kiln/internal/service"
)

// Payments serves the pay and refund routes of payable resources; it checks access (the
// record's view rule, the refund roles) and calls Stripe.
type Payments interface {
	Pay(ctx context.Context, resource, id string) (*payments.Checkout, error)
	// List reads the attempts for the operators (GET {base}/admin/payments).
	List(ctx context.Context, o payments.ListOpts) ([]*payments.Listed, error)
	Refund(ctx context.Context, resource, id string) (*payments.Payment, error)
}

// Stable error codes of payments.
const (
	CodeNotPayable      = "not_payable"
	CodeAlreadyPaid     = "already_paid"
	CodeNotRefundable   = "not_refundable"
	CodeAmount          = "amount_not_chargeable"
	CodePaymentsOff     = "payments_not_configured"
	CodePaymentProvider = "payment_provider_unavailable"
	CodePaymentRefused  = "payment_refused"
	CodeAlreadyRefunded = "already_refunded"
	CodePaymentPending  = "payment_pending"
)

// providerRetryAfter is the Retry-After, in seconds, of payment_provider_unavailable.
const providerRetryAfter = 2

// registerPayments serves POST {item}/pay and, when refund roles are declared, POST
// {item}/refund for each payable resource.
func (h *Handler) registerPayments(mux *routeMux, base string) {
	if h.payments == nil {
		return
	}
	for _, r := range h.spec.Resources {
		if r.Payable == nil {
			continue
		}
		name, item := r.Name, base+"/"+r.Name+"/{id}"
		mux.HandleFunc("POST "+item+"/pay", h.authenticate(h.noParams(h.noBody("pay", func(w http.ResponseWriter, req *http.Request) {
			c, err := h.payments.Pay(req.Context(), name, req.PathValue("id"))
			h.paymentAnswer(w, req, err, func() any {
				return map[string]any{"url": c.URL, "session_id": c.SessionID, "expires_at": c.ExpiresAt.Format(time.RFC3339),
					"amount": payments.FromMinor(c.Amount, c.Currency), "currency": c.Currency}
			})
		}))))
		mux.refuse(item+"/pay", h.methodNotAllowed("POST"))
		if len(r.Payable.Refund) == 0 {
			continue
		}
		mux.HandleFunc("POST "+item+"/refund", h.authenticate(h.noParams(h.noBody("refund", func(w http.ResponseWriter, req *http.Request) {
			p, err := h.payments.Refund(req.Context(), name, req.PathValue("id"))
			h.paymentAnswer(w, req, err, func() any {
				// what the refund returns: the whole PaymentIntent, what Stripe reported paid — not
				// the amount asked when a mismatched payment (another sum) is refunded
				refunded := p.PaidAmount
				if refunded == 0 {
					refunded = p.Amount
				}
				return map[string]any{"state": p.State, "refund_id": p.RefundID, "amount": payments.FromMinor(refunded, p.Currency), "currency": p.Currency}
			})
		}))))
		mux.refuse(item+"/refund", h.methodNotAllowed("POST"))
	}
}

// noBody refuses a call of action (pay, refund) that sends a body: neither takes one, and a
// body sent ({"amount": 1}) was ignored while the call went ahead as the client did not ask.
// Whitespace alone is no body.
func (h *Handler) noBody(action string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r, h.maxBody)
		if err == nil && len(bytes.Trim(body, " \t\r\n")) > 0 {
			err = service.Errorf(service.CodeMalformed, "%s takes no body", action)
		}
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		next(w, r)
	}
}

func (h *Handler) paymentAnswer(w http.ResponseWriter, r *http.Request, err error, body func() any) {
	if err != nil {
		WriteError(w, r, h.log, paymentError(err))
		return
	}
	b, err := json.Marshal(body())
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, append(b, '\n'))
}

// paymentError gives each payments error its code; the provider's own answer stays in the
// log (the cause), never in the response — except Stripe's error type and code when it
// refused the call for good, which say why and hold nothing secret.
func paymentError(err error) error {
	var known *service.Error
	if errors.As(err, &known) {
		return known
	}
	const offMsg = "payments are not configured on this server"
	kinds := []struct {
		err          error
		code         string
		class        service.Code
		msg          string
		keepOwnError bool
	}{
		{payments.ErrNotFound, string(service.CodeNotFound), "", "", true},
		{payments.ErrNotPayable, CodeNotPayable, service.CodeConflict, "", true},
		{payments.ErrAlreadyPaid, CodeAlreadyPaid, service.CodeConflict, "", true},
		{payments.ErrNotRefundable, CodeNotRefundable, service.CodeConflict, "", true},
		{payments.ErrPaymentPending, CodePaymentPending, service.CodeConflict, "", true},
		{payments.ErrAlreadyRefunded, CodeAlreadyRefunded, service.CodeConflict, payments.ErrAlreadyRefunded.Error(), false},
		{payments.ErrRefused, CodePaymentRefused, service.CodeConflict, payments.ErrRefused.Error(), false},
		{payments.ErrAmount, CodeAmount, service.CodeUnprocessable, "", true},
		{payments.ErrNotConfigured, CodePaymentsOff, service.CodeUnavailable, offMsg, false},
		{payments.ErrProviderKey, CodePaymentsOff, service.CodeUnavailable, offMsg, false},
		{payments.ErrProvider, CodePaymentProvider, service.CodeUnavailable, "the payment provider did not answer; try again", false},
	}
	for _, k := range kinds {
		if !errors.Is(err, k.err) {
			continue
		}
		msg := k.msg
		if k.keepOwnError {
			msg = err.Error()
		}
		var pe *payments.ProviderError
		if errors.As(err, &pe) && k.err != payments.ErrProvider && k.err != payments.ErrProviderKey {
			msg = k.err.Error()
			if r := pe.Reason(); r != "" {
				msg += " (stripe: " + r + ")"
			}
		}
		e := &service.Error{Code: service.Code(k.code), Class: k.class, Message: msg, Cause: err}
		if k.err == payments.ErrProvider {
			e.RetryAfter = providerRetryAfter
		}
		return e
	}
	return err
}
