package payments

import (
	"context"
	"fmt"

	"github.com/stripe/stripe-go/v85"
)

// Refund refunds a paid record in full through Stripe's refund API, in the request (an
// administrator waits for the answer), with an idempotency key per record and payment, so
// a retried refund refunds once. A refund Stripe reports succeeded moves the record to its
// refunded state at once; a pending one waits for the charge.refunded event. Either way
// the move happens once (apply).
func (p *Payments) Refund(ctx context.Context, resource, id string) (*Payment, error) {
	if p.stripe == nil {
		return nil, ErrNotConfigured
	}
	r, err := p.payable(resource)
	if err != nil {
		return nil, err
	}
	all, err := attempts(ctx, p.cfg.Store.Reader(), r.Name, id)
	if err != nil {
		return nil, err
	}
	pay := toRefund(all)
	if pay == nil {
		state := "unpaid"
		if len(all) > 0 {
			state = all[0].State
		}
		return nil, fmt.Errorf("%w: its payment is %s", ErrNotRefundable, state)
	}
	if err := p.refundable(ctx, r.Name, id, pay); err != nil {
		return nil, err
	}
	rf, err := p.stripe.refund(ctx, r.Name, id, pay.IntentID)
	if err != nil {
		return nil, err
	}
	ob := observation{Resource: r.Name, RecordID: id, Attempt: pay.Attempt, IntentID: pay.IntentID, RefundID: rf.ID, Amount: rf.Amount, Currency: string(rf.Currency)}
	if rf.Status == stripe.RefundStatusSucceeded {
		ob.To = StateRefunded
	}
	if err := p.apply(ctx, ob); err != nil {
		return nil, err
	}
	return attempt(ctx, p.cfg.Store.Reader(), r.Name, id, pay.Attempt)
}

// toRefund is the attempt a refund refunds: a paid (or mismatched) one with its
// PaymentIntent, the one that moved the record first, else the latest. all is latest first.
func toRefund(all []*Payment) *Payment {
	var found *Payment
	for _, a := range all {
		if (a.State != StatePaid && a.State != StateMismatch) || a.IntentID == "" {
			continue
		}
		if a.Moved {
			return a
		}
		if found == nil {
			found = a
		}
	}
	return found
}

// refundable refuses a refund the state machine could not follow (the record is in a state
// with no transition to the refunded state). A payment that did not move the record (a
// mismatched one, a second one) is refunded without moving it.
func (p *Payments) refundable(ctx context.Context, resource, id string, pay *Payment) error {
	r, _ := p.payable(resource)
	to := r.Payable.Refunded
	if to == "" || !pay.Moved {
		return nil
	}
	rec, err := p.cfg.Store.Reader().Get(ctx, resource, id, nil)
	if err != nil {
		return fmt.Errorf("%w: %s %s", ErrNotFound, resource, id)
	}
	if state := stateOf(r, rec); !r.Field(r.Payable.State).CanMove(state, to) {
		return fmt.Errorf("%w: %s is %s, which cannot become %s", ErrNotRefundable, resource, state, to)
	}
	return nil
}
