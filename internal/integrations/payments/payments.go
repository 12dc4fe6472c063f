// Package payments takes card payments with Stripe for the spec's payable resources: the
// pay action opens a Checkout Session (the amount in the currency's minor units, exactly),
// one Stripe customer per account, and Stripe's events — verified and de-duplicated by the
// incoming webhook machinery — move the record's state machine once and only forward,
// through kiln_payments, in the transaction that moves the record. Refunds are an action.
package payments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Errors of payments; the transport gives each a stable code.
var (
	ErrNotPayable    = errors.New("the record cannot be paid now")
	ErrAlreadyPaid   = errors.New("the record is already paid")
	ErrNotRefundable = errors.New("the record has no payment to refund")
	ErrAmount        = errors.New("the amount cannot be charged in its currency")
	ErrNotConfigured = errors.New("payments are not configured: STRIPE_SECRET_KEY is not set")
	ErrProvider      = errors.New("the payment provider did not complete the call")
	// ErrRefused: Stripe refused the call for good (an invalid request, a missing object);
	// sending it again changes nothing.
	ErrRefused = errors.New("the payment provider refused the call")
	// ErrAlreadyRefunded: Stripe says the charge was refunded already (in its Dashboard,
	// say); its charge.refunded event moves the payment.
	ErrAlreadyRefunded = errors.New("the payment was already refunded with the payment provider")
	// ErrProviderKey: Stripe refused STRIPE_SECRET_KEY (401, 403).
	ErrProviderKey = errors.New("the payment provider refused the server's API key")
	// ErrPaymentPending: the previous attempt's Checkout Session was completed and its
	// payment is being confirmed; a new one is not opened beside it.
	ErrPaymentPending = errors.New("the record's last checkout was completed; its payment is being confirmed")
	ErrNotFound       = errors.New("no such payable record")
)

// MoveFunc sets a record's state field to a state, through the write pipeline, inside the
// transaction Records.InTx opened.
type MoveFunc func(ctx context.Context, resource, id, field, to string) error

// Records runs a transaction in which payments may move records (service.Service on the
// system's authority: the state machine, rules and events apply, access rules do not).
type Records interface {
	InTx(ctx context.Context, fn func(ctx context.Context, tx *store.Exec, move MoveFunc) error) error
}

// Config wires Payments.
type Config struct {
	Spec    *spec.Spec
	Store   *store.Store
	Records Records
	// SecretKey is STRIPE_SECRET_KEY; without it pay and refund answer ErrNotConfigured
	// (events still arrive and are applied).
	SecretKey string
	// HTTPClient makes the calls to Stripe (default: one bounded by the spec's timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// Poll is how often a pay call waiting for another one's customer looks again (50ms).
	Poll time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Spec.Payments.Timeout}
	}
	c.Poll = cmp.Or(c.Poll, 50*time.Millisecond)
	return c
}

func (c Config) validate() error {
	if c.Spec == nil || c.Store == nil || c.Records == nil || !c.Spec.Payments.Enabled() {
		return errors.New("payments: need the spec (with a payments block), the store and the records")
	}
	return nil
}

// Payments takes payments for the spec's payable resources.
type Payments struct {
	cfg    Config
	stripe *stripeClient // nil without a secret key
}

// New builds Payments.
func New(cfg Config) (*Payments, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Payments{cfg: cfg}
	if cfg.SecretKey != "" {
		p.stripe = newStripeClient(cfg.SecretKey, cfg.Spec.Payments.APIURL, cfg.HTTPClient)
	} else {
		cfg.Logger.Warn("payments: STRIPE_SECRET_KEY is not set; pay and refund answer 503 until it is")
	}
	return p, nil
}

// payable returns a payable resource by name.
func (p *Payments) payable(name string) (*spec.Resource, error) {
	r := p.cfg.Spec.Resource(name)
	if r == nil || r.Payable == nil {
		return nil, fmt.Errorf("%w: %s is not payable", ErrNotFound, name)
	}
	return r, nil
}

func (p *Payments) now() time.Time { return p.cfg.Now().UTC() }
