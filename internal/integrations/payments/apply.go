package payments

import (
	"context"
	"fmt"
	"slices"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// apply records what an event says about a payment attempt and moves the record with it,
// in one transaction that locks the record: the attempt's state only moves forward (rank),
// so an event sent twice, or arriving after a later one, changes nothing, and each move of
// the record's state machine happens once. A refund that arrives before the payment's
// success moves the record through paid to refunded.
func (p *Payments) apply(ctx context.Context, ob observation) error {
	r, err := p.payable(ob.Resource)
	if err != nil {
		return err
	}
	return p.cfg.Records.InTx(ctx, func(ctx context.Context, tx *store.Exec, move MoveFunc) error {
		rec, err := readRecord(ctx, tx, r.Name, ob.RecordID)
		if err != nil {
			return err
		}
		all, err := attempts(ctx, tx, r.Name, ob.RecordID)
		if err != nil {
			return err
		}
		now := p.now().UnixMicro()
		pay := match(all, ob)
		if ob.To == StateExpired {
			return expireSession(ctx, tx, pay, ob, now)
		}
		if pay == nil {
			pay = &Payment{Resource: r.Name, RecordID: ob.RecordID, State: StateOpen, Amount: ob.Amount, Currency: ob.Currency, Attempt: 1}
			if err := insert(ctx, tx, pay, now); err != nil {
				return err
			}
		}
		pay.SessionID = cmpOr(pay.SessionID, ob.SessionID)
		if rank(ob.To) <= rank(pay.State) {
			p.stale(ctx, pay, ob)
			return save(ctx, tx, pay, now)
		}
		// Only an event that moves the attempt names its intent: a late event of another
		// payment must not redirect a refund.
		pay.IntentID = cmpOr(ob.IntentID, pay.IntentID)
		pay.RefundID = cmpOr(ob.RefundID, pay.RefundID)
		if err := p.advance(ctx, r, rec, pay, ob, move); err != nil {
			return err
		}
		return save(ctx, tx, pay, now)
	})
}

// expireSession records a Checkout Session Stripe expired (checkout.session.expired: the
// customer abandoned it) on the attempt of that session: an open or failed one becomes
// expired — a failed one too, though of the same rank, as its session can no longer be paid.
// A paid or refunded attempt, or an event of a session no attempt holds, changes nothing;
// a payment event of the attempt arriving after it still applies (it ranks higher).
func expireSession(ctx context.Context, tx *store.Exec, pay *Payment, ob observation, now int64) error {
	if pay == nil || (pay.SessionID != ob.SessionID && (pay.SessionID != "" || pay.Attempt != ob.Attempt)) {
		return nil
	}
	if pay.State != StateOpen && pay.State != StateFailed {
		return nil
	}
	pay.SessionID, pay.State = ob.SessionID, StateExpired
	return save(ctx, tx, pay, now)
}

// match finds the attempt an event belongs to: the one with the event's Checkout Session,
// else its PaymentIntent, else the attempt Kiln's metadata names, else the latest (nil when
// the record has none). all is latest first.
func match(all []*Payment, ob observation) *Payment {
	for _, same := range []func(a *Payment) bool{
		func(a *Payment) bool { return ob.SessionID != "" && a.SessionID == ob.SessionID },
		func(a *Payment) bool { return ob.IntentID != "" && a.IntentID == ob.IntentID },
		func(a *Payment) bool { return ob.Attempt != 0 && a.Attempt == ob.Attempt },
	} {
		for _, a := range all {
			if same(a) {
				return a
			}
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all[0]
}

// stale handles an event that does not move the payment. A success for another intent than
// the one recorded is a second payment of the record (an older Checkout Session paid too):
// it is recorded as the payment's problem and logged, for staff to refund it in Stripe.
func (p *Payments) stale(ctx context.Context, pay *Payment, ob observation) {
	if ob.To != StatePaid || ob.IntentID == "" || pay.IntentID == "" || ob.IntentID == pay.IntentID {
		return
	}
	pay.Problem = fmt.Sprintf("a second payment (intent %s) arrived after %s: refund it in Stripe", ob.IntentID, pay.IntentID)
	p.cfg.Logger.WarnContext(ctx, "a record was paid twice", "resource", pay.Resource, "record", pay.RecordID,
		"intent", ob.IntentID, "recorded_intent", pay.IntentID)
}

// advance moves pay (and the record) to the state ob leads to, a later one than pay's.
func (p *Payments) advance(ctx context.Context, r *spec.Resource, rec *store.Record, pay *Payment, ob observation, move MoveFunc) error {
	if ob.To == StateFailed {
		pay.State = StateFailed
		return nil
	}
	state := stateOf(r, rec)
	if pay.State != StatePaid && pay.State != StateMismatch {
		if ok := p.checkAmount(r, rec, pay, ob); !ok {
			return nil
		}
		pay.PaidAmount = ob.Amount
		if slices.Contains(r.Payable.PayFrom, state) {
			if err := move(ctx, r.Name, rec.ID, r.Payable.State, r.Payable.Paid); err != nil {
				return err
			}
			state, pay.Moved = r.Payable.Paid, true
		} else {
			pay.Problem = fmt.Sprintf("paid while the record was %s: it was not moved to %s; refund it", state, r.Payable.Paid)
			p.cfg.Logger.WarnContext(ctx, "a payment arrived for a record that cannot take it", "resource", r.Name, "record", rec.ID,
				"attempt", pay.Attempt, "intent", pay.IntentID, "state", state)
		}
		pay.State = StatePaid
	}
	if ob.To != StateRefunded {
		return nil
	}
	pay.State = StateRefunded
	// Only the refund of the payment that moved the record moves it back (not a mismatched
	// payment's, nor a second payment's).
	if to := r.Payable.Refunded; to != "" && pay.Moved {
		if !r.Field(r.Payable.State).CanMove(state, to) {
			pay.Problem = fmt.Sprintf("refunded while the record was %s: it was not moved to %s", state, to)
			return nil
		}
		return move(ctx, r.Name, rec.ID, r.Payable.State, to)
	}
	return nil
}

// checkAmount compares what was paid with what the record costs now; a difference leaves
// the record where it is and flags the payment (mismatch, or refunded with the problem).
func (p *Payments) checkAmount(r *spec.Resource, rec *store.Record, pay *Payment, ob observation) bool {
	want, currency, err := amountOf(r, rec)
	if err == nil && want == ob.Amount && currency == ob.Currency {
		return true
	}
	pay.PaidAmount = ob.Amount
	pay.Problem = fmt.Sprintf("paid %s %s, but %s %s costs %s %s", FromMinor(ob.Amount, ob.Currency), ob.Currency, r.Name, rec.ID, FromMinor(want, currency), currency)
	pay.State = StateMismatch
	if ob.To == StateRefunded {
		pay.State = StateRefunded
	}
	p.cfg.Logger.Warn("payment amount does not match the record", "resource", r.Name, "record_id", rec.ID, "event_id", ob.EventID,
		"paid", ob.Amount, "expected", want, "currency", ob.Currency)
	return false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
