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
	pay, err := load(ctx, p.cfg.Store.Reader(), r.Name, id)
	if err != nil {
		return nil, err
	}
	switch {
	case pay == nil || (pay.State != StatePaid && pay.State != StateMismatch) || pay.IntentID == "":
		state := "unpaid"
		if pay != nil {
			state = pay.State
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
	ob := observation{Resource: r.Name, RecordID: id, IntentID: pay.IntentID, RefundID: rf.ID, Amount: rf.Amount, Currency: string(rf.Currency)}
	if rf.Status == stripe.RefundStatusSucceeded {
		ob.To = StateRefunded
	}
	if err := p.apply(ctx, ob); err != nil {
		return nil, err
	}
	return load(ctx, p.cfg.Store.Reader(), r.Name, id)
}

// refundable refuses a refund the state machine could not follow (the record is in a state
// with no transition to the refunded state). A mismatched payment never moved the record,
// and its refund does not either.
func (p *Payments) refundable(ctx context.Context, resource, id string, pay *Payment) error {
	r, _ := p.payable(resource)
	to := r.Payable.Refunded
	if to == "" || pay.State == StateMismatch {
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
