package payments

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/stripe/stripe-go/v85"
)

// ProviderError is a call to Stripe that failed: what Stripe answered (status, type, code,
// param, request id — never its message, which may quote the request's Authorization
// header, as stripe-mock's does), or the transport's error when no answer came. It wraps
// the sentinel that says what the caller may do: ErrProvider (try again), ErrRefused,
// ErrAlreadyRefunded, ErrProviderKey or ErrAmount.
type ProviderError struct {
	Op                           string // what Kiln asked: "create a checkout session"
	Status                       int    // Stripe's HTTP status; 0 without an answer
	Type, Code, Param, RequestID string
	kind                         error
	cause                        error // the transport's error; nil with an answer
}

func (e *ProviderError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%v: %s: %v", e.kind, e.Op, e.cause)
	}
	return fmt.Sprintf("%v: %s: stripe answered %d %s/%s (param %q, request %s)", e.kind, e.Op, e.Status, e.Type, e.Code, e.Param, e.RequestID)
}

// Unwrap gives errors.Is the sentinel and the transport's error.
func (e *ProviderError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// Reason is Stripe's error type and code, safe to show a client ("invalid_request_error/
// resource_missing"); "" without an answer.
func (e *ProviderError) Reason() string {
	if e.Status == 0 {
		return ""
	}
	if e.Code == "" {
		return e.Type
	}
	return e.Type + "/" + e.Code
}

// missing says whether Stripe answered that the object param names does not exist (a
// customer deleted in the Dashboard).
func (e *ProviderError) missing(param string) bool {
	return e.Code == string(stripe.ErrorCodeResourceMissing) && e.Param == param
}

// providerError classifies a failed call. Only what may pass is worth trying again: no
// answer, a 5xx, 429 (rate limit, lock timeout) and 409 (a request with the same
// idempotency key still running). A rejected key (401, 403) is the server's configuration;
// any other 4xx is Stripe refusing the call for good, and trying it again changes nothing.
func providerError(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *stripe.Error
	if !errors.As(err, &se) {
		return &ProviderError{Op: op, kind: ErrProvider, cause: err}
	}
	e := &ProviderError{Op: op, Status: se.HTTPStatusCode, Type: string(se.Type), Code: string(se.Code), Param: se.Param, RequestID: se.RequestID}
	switch s := se.HTTPStatusCode; {
	case se.Code == stripe.ErrorCodeChargeAlreadyRefunded:
		e.kind = ErrAlreadyRefunded
	case se.Code == stripe.ErrorCodeAmountTooSmall || se.Code == stripe.ErrorCodeAmountTooLarge:
		e.kind = ErrAmount
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.kind = ErrProviderKey
	case s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500 || s < 400:
		e.kind = ErrProvider
	default:
		e.kind = ErrRefused
	}
	return e
}
