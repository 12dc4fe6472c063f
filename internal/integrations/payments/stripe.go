package payments

import (
	"context"
	"net/http"
	"strconv"

	"github.com/stripe/stripe-go/v85"
)

// stripeClient makes Kiln's calls to Stripe's API with stripe-go, each with an idempotency
// key, so a call repeated (by stripe-go's own retries, or by a client retrying pay or
// refund) has its effect once.
type stripeClient struct {
	c *stripe.Client
}

func newStripeClient(key, apiURL string, hc *http.Client) *stripeClient {
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL:               stripe.String(apiURL),
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(2),
		// Kiln logs what it handles; stripe-go would log every failed call again.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return &stripeClient{c: stripe.NewClient(key, stripe.WithBackends(backends))}
}

// session is what a Checkout Session for one record needs.
type session struct {
	Resource, RecordID string
	Attempt            int64
	Amount             int64 // minor units
	Currency           string
	Customer           string // a Stripe customer id, or ""
	SuccessURL         string
	CancelURL          string
	IdempotencyKey     string
}

func (s *stripeClient) checkout(ctx context.Context, in session) (*stripe.CheckoutSession, error) {
	meta := metadata(in.Resource, in.RecordID)
	meta[metaAttempt] = strconv.FormatInt(in.Attempt, 10)
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		SuccessURL:        stripe.String(in.SuccessURL),
		CancelURL:         stripe.String(in.CancelURL),
		ClientReferenceID: stripe.String(in.RecordID),
		Metadata:          meta,
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: meta},
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(in.Currency),
				UnitAmount:  stripe.Int64(in.Amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(in.Resource + " " + in.RecordID)},
			},
		}},
	}
	if in.Customer != "" {
		params.Customer = stripe.String(in.Customer)
	}
	params.SetIdempotencyKey(in.IdempotencyKey)
	cs, err := s.c.V1CheckoutSessions.Create(ctx, params)
	return cs, providerError("create a checkout session", err)
}

// expire expires a Checkout Session, so it can no longer be paid.
func (s *stripeClient) expire(ctx context.Context, id string) (*stripe.CheckoutSession, error) {
	cs, err := s.c.V1CheckoutSessions.Expire(ctx, id, &stripe.CheckoutSessionExpireParams{})
	return cs, providerError("expire a checkout session", err)
}

// session reads a Checkout Session.
func (s *stripeClient) session(ctx context.Context, id string) (*stripe.CheckoutSession, error) {
	cs, err := s.c.V1CheckoutSessions.Retrieve(ctx, id, &stripe.CheckoutSessionRetrieveParams{})
	return cs, providerError("read a checkout session", err)
}

func (s *stripeClient) customer(ctx context.Context, account, email, key string) (*stripe.Customer, error) {
	params := &stripe.CustomerCreateParams{Metadata: map[string]string{"kiln_account_id": account}}
	if email != "" {
		params.Email = stripe.String(email)
	}
	params.SetIdempotencyKey(key)
	c, err := s.c.V1Customers.Create(ctx, params)
	return c, providerError("create a customer", err)
}

func (s *stripeClient) refund(ctx context.Context, resource, id, intent string) (*stripe.Refund, error) {
	params := &stripe.RefundCreateParams{PaymentIntent: stripe.String(intent), Metadata: metadata(resource, id)}
	params.SetIdempotencyKey("kiln_refund_" + resource + "_" + id + "_" + intent)
	r, err := s.c.V1Refunds.Create(ctx, params)
	return r, providerError("create a refund", err)
}

// Metadata keys that tie Stripe's objects to Kiln's records.
const (
	metaResource = "kiln_resource"
	metaRecord   = "kiln_record_id"
	metaAttempt  = "kiln_attempt"
)

func metadata(resource, id string) map[string]string {
	return map[string]string{metaResource: resource, metaRecord: id}
}
