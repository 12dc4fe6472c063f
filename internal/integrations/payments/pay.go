package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// PayInput names the record to pay and who pays it.
type PayInput struct {
	Resource, ID string
	// AccountID and Email identify the paying account (its Stripe customer); empty for an
	// API key, which pays without a customer.
	AccountID, Email string
}

// Checkout is where the customer pays: a Checkout Session.
type Checkout struct {
	URL       string
	SessionID string
	ExpiresAt time.Time
	Amount    int64 // minor units
	Currency  string
}

// reuseMargin: an open session that expires sooner than this is not handed out again.
const reuseMargin = 10 * time.Minute

// Pay opens (or hands out again) the Checkout Session of a record in a pay_from state. The
// call to Stripe is made in the request — the answer is the session's URL — bounded by the
// spec's timeout and made with an idempotency key per record, attempt, amount and
// currency, so a retried or concurrent pay call gets the same session. Before a new
// attempt's session is opened, the sessions of earlier attempts that are still open are
// expired in Stripe, so that only one can be paid.
func (p *Payments) Pay(ctx context.Context, in PayInput) (*Checkout, error) {
	if p.stripe == nil {
		return nil, ErrNotConfigured
	}
	if _, err := p.payable(in.Resource); err != nil {
		return nil, err
	}
	pay, earlier, reuse, err := p.prepare(ctx, in)
	if err != nil || reuse {
		return checkoutOf(pay), err
	}
	for _, old := range earlier {
		if err := p.expireAttempt(ctx, old); err != nil {
			return nil, err
		}
	}
	cs, err := p.openSession(ctx, in, pay)
	if err != nil {
		return nil, err
	}
	pay.SessionID, pay.SessionURL, pay.SessionExpiresAt = cs.ID, cs.URL, cs.ExpiresAt
	err = p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "UPDATE kiln_payments SET session_id = ?, session_url = ?, session_expires_at = ?, updated_at = ? "+
			"WHERE resource = ? AND record_id = ? AND attempt = ? AND session_id IS NULL",
			cs.ID, cs.URL, cs.ExpiresAt, p.now().UnixMicro(), in.Resource, in.ID, pay.Attempt)
	})
	if err != nil {
		return nil, fmt.Errorf("store the checkout session: %w", err)
	}
	return checkoutOf(pay), nil
}

// openSession creates the attempt's Checkout Session with the account's customer. When
// Stripe says that customer is gone (deleted in its Dashboard), the account gets a new
// customer, once, and the session is asked for again with it (under a key naming it: the
// first key's answer was the refusal).
func (p *Payments) openSession(ctx context.Context, in PayInput, pay *Payment) (*stripe.CheckoutSession, error) {
	customer := ""
	if in.AccountID != "" {
		var err error
		if customer, err = p.customer(ctx, in.AccountID, in.Email); err != nil {
			return nil, err
		}
	}
	cfg := p.cfg.Spec.Payments
	s := session{Resource: in.Resource, RecordID: in.ID, Attempt: pay.Attempt, Amount: pay.Amount, Currency: pay.Currency, Customer: customer,
		SuccessURL: strings.ReplaceAll(cfg.SuccessURL, "{id}", in.ID), CancelURL: strings.ReplaceAll(cfg.CancelURL, "{id}", in.ID),
		IdempotencyKey: fmt.Sprintf("kiln_checkout_%s_%s_%d_%d%s", in.Resource, in.ID, pay.Attempt, pay.Amount, pay.Currency)}
	cs, err := p.stripe.checkout(ctx, s)
	var pe *ProviderError
	if customer == "" || !errors.As(err, &pe) || !pe.missing("customer") {
		return cs, err
	}
	if s.Customer, err = p.replaceCustomer(ctx, in.AccountID, in.Email, customer); err != nil {
		return nil, err
	}
	s.IdempotencyKey += "_" + s.Customer
	return p.stripe.checkout(ctx, s)
}

// expireAttempt expires an earlier attempt's open Checkout Session in Stripe and records
// the attempt expired. Stripe refuses to expire a session that is no longer open; then the
// session is read: expired, or completed unpaid after the attempt's payment failed (a
// delayed method that failed), lets the new attempt go on; completed otherwise — paid, or
// a delayed payment still on its way — means its event has not arrived yet, and pay
// answers ErrPaymentPending rather than open a second payable session.
func (p *Payments) expireAttempt(ctx context.Context, old *Payment) error {
	_, err := p.stripe.expire(ctx, old.SessionID)
	if errors.Is(err, ErrRefused) {
		cs, rerr := p.stripe.session(ctx, old.SessionID)
		switch {
		case rerr != nil:
			return rerr
		case cs.Status == stripe.CheckoutSessionStatusComplete &&
			(cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusUnpaid || old.State != StateFailed):
			return fmt.Errorf("%w: the checkout session of attempt %d was completed", ErrPaymentPending, old.Attempt)
		case cs.Status != stripe.CheckoutSessionStatusOpen:
			err = nil
		}
	}
	if err != nil {
		return err
	}
	err = p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "UPDATE kiln_payments SET state = ?, updated_at = ? WHERE resource = ? AND record_id = ? AND attempt = ? AND state IN (?, ?)",
			StateExpired, p.now().UnixMicro(), old.Resource, old.RecordID, old.Attempt, StateOpen, StateFailed)
	})
	if err != nil {
		return fmt.Errorf("record the expired checkout session: %w", err)
	}
	return nil
}

// prepare checks the record may be paid and readies the attempt to pay it with: the latest
// when its session is still open for the same amount and account (reuse), else a new one.
// A paid attempt refuses; a refunded or mismatched one lets the record be paid again.
func (p *Payments) prepare(ctx context.Context, in PayInput) (*Payment, []*Payment, bool, error) {
	r, _ := p.payable(in.Resource)
	var pay *Payment
	var all []*Payment
	var reuse bool
	err := p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		if err := tx.LockRow(ctx, r.Name, in.ID); err != nil {
			return err
		}
		rec, err := tx.Get(ctx, r.Name, in.ID, nil)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s %s", ErrNotFound, r.Name, in.ID)
		} else if err != nil {
			return err
		}
		amount, currency, err := amountOf(r, rec)
		if err != nil {
			return err
		}
		if all, err = attempts(ctx, tx, r.Name, in.ID); err != nil {
			return err
		}
		if err := payableNow(r, stateOf(r, rec), all); err != nil {
			return err
		}
		if amount <= 0 {
			return fmt.Errorf("%w: %s is %s", ErrNotPayable, r.Payable.Amount, FromMinor(amount, currency))
		}
		pay, reuse, err = p.nextAttempt(ctx, tx, in, all, amount, currency)
		return err
	})
	if err != nil || reuse {
		return pay, nil, reuse, err
	}
	return pay, p.stillOpen(all, pay), false, nil
}

// payableNow refuses a record in its paid state, or paid by an attempt that moved it (and
// moved back since without a refund), as already paid, and one outside its pay_from states
// as not payable — a cancelled record holding a stray payment (paid after it was cancelled,
// not moved) is not payable, as it is once that payment is refunded. state is the record's.
func payableNow(r *spec.Resource, state string, all []*Payment) error {
	if state == r.Payable.Paid {
		return ErrAlreadyPaid
	}
	if !slices.Contains(r.Payable.PayFrom, state) {
		return fmt.Errorf("%w: %s is %s", ErrNotPayable, r.Name, state)
	}
	if slices.ContainsFunc(all, func(a *Payment) bool { return a.State == StatePaid && a.Moved }) {
		return ErrAlreadyPaid
	}
	return nil
}

// stillOpen are the attempts before pay whose sessions may still be paid: open or failed
// (a declined card leaves the session open), with a session not past its expiry.
func (p *Payments) stillOpen(all []*Payment, pay *Payment) []*Payment {
	var out []*Payment
	now := p.now().Unix()
	for _, a := range all {
		if a.Attempt != pay.Attempt && (a.State == StateOpen || a.State == StateFailed) && a.SessionID != "" && a.SessionExpiresAt > now {
			out = append(out, a)
		}
	}
	return out
}

// nextAttempt picks the attempt to pay with among all (latest first): the latest again
// when it is open for the same amount, currency and account — handed out as it is (reuse)
// while its session has more than reuseMargin left, or continued while it has no session
// yet (a concurrent or failed call is creating it, with the same idempotency key) — else a
// new attempt.
func (p *Payments) nextAttempt(ctx context.Context, tx *store.Exec, in PayInput, all []*Payment, amount int64, currency string) (*Payment, bool, error) {
	now := p.now()
	next := &Payment{Resource: in.Resource, RecordID: in.ID, State: StateOpen, Amount: amount, Currency: currency, Attempt: 1, AccountID: in.AccountID}
	if len(all) > 0 {
		last := all[0]
		same := last.Amount == amount && last.Currency == currency && last.AccountID == in.AccountID
		switch {
		case same && last.State == StateOpen && last.SessionID == "":
			return last, false, nil
		case same && (last.State == StateOpen || last.State == StateFailed) && last.SessionURL != "" &&
			time.Unix(last.SessionExpiresAt, 0).After(now.Add(reuseMargin)):
			return last, true, nil
		}
		next.Attempt = last.Attempt + 1
	}
	return next, false, insert(ctx, tx, next, now.UnixMicro())
}

func checkoutOf(p *Payment) *Checkout {
	if p == nil {
		return nil
	}
	return &Checkout{URL: p.SessionURL, SessionID: p.SessionID, ExpiresAt: time.Unix(p.SessionExpiresAt, 0).UTC(), Amount: p.Amount, Currency: p.Currency}
}
