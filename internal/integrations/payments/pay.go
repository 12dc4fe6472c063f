package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
// currency, so a retried or concurrent pay call gets the same session.
func (p *Payments) Pay(ctx context.Context, in PayInput) (*Checkout, error) {
	if p.stripe == nil {
		return nil, ErrNotConfigured
	}
	r, err := p.payable(in.Resource)
	if err != nil {
		return nil, err
	}
	pay, reuse, err := p.prepare(ctx, in)
	if err != nil || reuse {
		return checkoutOf(pay), err
	}
	customer := ""
	if in.AccountID != "" {
		if customer, err = p.customer(ctx, in.AccountID, in.Email); err != nil {
			return nil, err
		}
	}
	cfg := p.cfg.Spec.Payments
	cs, err := p.stripe.checkout(ctx, session{Resource: r.Name, RecordID: in.ID, Amount: pay.Amount, Currency: pay.Currency,
		Customer: customer, SuccessURL: strings.ReplaceAll(cfg.SuccessURL, "{id}", in.ID), CancelURL: strings.ReplaceAll(cfg.CancelURL, "{id}", in.ID),
		IdempotencyKey: fmt.Sprintf("kiln_checkout_%s_%s_%d_%d%s", r.Name, in.ID, pay.Attempt, pay.Amount, pay.Currency)})
	if err != nil {
		return nil, err
	}
	pay.SessionID, pay.SessionURL, pay.SessionExpiresAt, pay.AccountID = cs.ID, cs.URL, cs.ExpiresAt, in.AccountID
	err = p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "UPDATE kiln_payments SET session_id = ?, session_url = ?, session_expires_at = ?, account_id = ?, updated_at = ? "+
			"WHERE resource = ? AND record_id = ? AND attempt = ? AND session_id IS NULL",
			cs.ID, cs.URL, cs.ExpiresAt, null(in.AccountID), p.now().UnixMicro(), r.Name, in.ID, pay.Attempt)
	})
	if err != nil {
		return nil, fmt.Errorf("store the checkout session: %w", err)
	}
	return checkoutOf(pay), nil
}

// prepare checks the record may be paid and readies its payment row for a session: the
// same one when it is still open for the same amount (reuse), else a new attempt.
func (p *Payments) prepare(ctx context.Context, in PayInput) (*Payment, bool, error) {
	r, _ := p.payable(in.Resource)
	var pay *Payment
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
		if pay, err = load(ctx, tx, r.Name, in.ID); err != nil {
			return err
		}
		if pay != nil && rank(pay.State) >= rank(StatePaid) {
			return ErrAlreadyPaid
		}
		if state := stateOf(r, rec); !slices.Contains(r.Payable.PayFrom, state) {
			return fmt.Errorf("%w: %s is %s", ErrNotPayable, r.Name, state)
		}
		if amount <= 0 {
			return fmt.Errorf("%w: %s is %s", ErrNotPayable, r.Payable.Amount, FromMinor(amount, currency))
		}
		pay, reuse, err = p.nextAttempt(ctx, tx, in, pay, amount, currency)
		return err
	})
	return pay, reuse, err
}

func (p *Payments) nextAttempt(ctx context.Context, tx *store.Exec, in PayInput, pay *Payment, amount int64, currency string) (*Payment, bool, error) {
	now := p.now()
	if pay == nil {
		pay = &Payment{Resource: in.Resource, RecordID: in.ID, State: StateOpen, Amount: amount, Currency: currency, Attempt: 1}
		return pay, false, insert(ctx, tx, pay, now.UnixMicro())
	}
	if pay.SessionID == "" || pay.Amount != amount || pay.Currency != currency {
		if pay.SessionID != "" {
			pay.Attempt++
		}
		pay.Amount, pay.Currency, pay.SessionID, pay.SessionURL, pay.SessionExpiresAt = amount, currency, "", "", 0
		return pay, false, save(ctx, tx, pay, now.UnixMicro())
	}
	if time.Unix(pay.SessionExpiresAt, 0).After(now.Add(reuseMargin)) && pay.SessionURL != "" {
		return pay, true, nil
	}
	pay.Attempt++
	pay.SessionID, pay.SessionURL, pay.SessionExpiresAt = "", "", 0
	return pay, false, save(ctx, tx, pay, now.UnixMicro())
}

func checkoutOf(p *Payment) *Checkout {
	if p == nil {
		return nil
	}
	return &Checkout{URL: p.SessionURL, SessionID: p.SessionID, ExpiresAt: time.Unix(p.SessionExpiresAt, 0).UTC(), Amount: p.Amount, Currency: p.Currency}
}
