package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v85"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/store"
)

// Event types Kiln acts on.
const (
	EventCheckoutCompleted   = "checkout.session.completed"
	EventCheckoutAsyncPaid   = "checkout.session.async_payment_succeeded"
	EventCheckoutAsyncFailed = "checkout.session.async_payment_failed"
	EventCheckoutExpired     = "checkout.session.expired"
	EventIntentSucceeded     = "payment_intent.succeeded"
	EventIntentFailed        = "payment_intent.payment_failed"
	EventChargeRefunded      = "charge.refunded"
)

// observation is what one event says about one record's payment.
type observation struct {
	EventID            string
	Resource, RecordID string // from the metadata Kiln put on the session and the intent
	Attempt            int64  // the attempt the metadata names; 0 when it names none
	SessionID          string
	IntentID           string
	RefundID           string // the refund the refund action made
	To                 string // the payment state the event leads to; "" to only learn ids
	Amount             int64  // minor units paid (or refunded), for paid and refunded
	Currency           string
}

// errUnknownPayment: an event of a payment Kiln cannot place yet (a charge.refunded that
// arrived before the session it belongs to was completed). The job retries.
var errUnknownPayment = errors.New("the event belongs to no payment Kiln knows yet")

// HandleEvent applies one verified Stripe event (its body as received). Events of other
// types are acknowledged and ignored. An event of a record that no longer exists, or that
// cannot be read, cancels the job; one Kiln cannot place yet is retried.
func (p *Payments) HandleEvent(ctx context.Context, payload []byte) error {
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil || ev.Data == nil {
		return jobs.Permanent(fmt.Errorf("the event is not a Stripe event: %v", err))
	}
	ob, ok, err := observe(&ev)
	if err != nil {
		return jobs.Permanent(err)
	}
	if !ok {
		return nil
	}
	if ob.Resource == "" && string(ev.Type) != EventChargeRefunded {
		// Kiln puts its metadata on every Checkout Session it opens and on its PaymentIntent:
		// a session or intent without it is another product's on the same Stripe account,
		// which retrying would only carry to the dead jobs (a new user's trial)
		p.cfg.Logger.InfoContext(ctx, "Stripe event ignored: its object carries no Kiln metadata (not a payment Kiln made)",
			"event_id", ev.ID, "type", string(ev.Type))
		return nil
	}
	if err := p.place(ctx, &ob); err != nil {
		return err
	}
	if _, err := p.payable(ob.Resource); err != nil {
		return jobs.Permanent(err)
	}
	if _, err := uuid.Parse(ob.RecordID); err != nil {
		return jobs.Permanent(fmt.Errorf("the event names record %q: not a record id", ob.RecordID))
	}
	err = p.apply(ctx, ob)
	if errors.Is(err, ErrNotFound) {
		if err := p.orphaned(ctx, ob); err != nil {
			return err
		}
		return jobs.Permanent(err)
	}
	return err
}

// orphaned notes a payment whose record is gone (deleted before its payment arrived) on its
// attempt: paid, with the problem, so that the money is flagged where staff read payments —
// the refund action has no record left to refund through — and refunded once Stripe says
// it was (the problem kept, dealt with). A payment of a record id Kiln never issued (no
// record, no attempt) is recorded as a new attempt the same way. Other events change nothing.
func (p *Payments) orphaned(ctx context.Context, ob observation) error {
	if ob.To != StatePaid && ob.To != StateRefunded {
		return nil
	}
	return p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		all, err := attempts(ctx, tx, ob.Resource, ob.RecordID)
		if err != nil {
			return err
		}
		now, gone := p.now().UnixMicro(), "after %s %s was deleted"
		pay := match(all, ob)
		if pay == nil && ob.To == StatePaid {
			pay, gone = &Payment{Resource: ob.Resource, RecordID: ob.RecordID, Attempt: 1, State: StateOpen, Amount: ob.Amount,
				Currency: ob.Currency, SessionID: ob.SessionID}, "for %s %s, which does not exist"
			if err := insert(ctx, tx, pay, now); err != nil {
				return err
			}
		}
		if pay == nil || rank(ob.To) <= rank(pay.State) {
			return nil
		}
		if ob.To == StateRefunded {
			pay.State, pay.RefundID = StateRefunded, cmpOr(ob.RefundID, pay.RefundID)
			return save(ctx, tx, pay, now)
		}
		pay.State, pay.PaidAmount, pay.IntentID = StatePaid, ob.Amount, cmpOr(ob.IntentID, pay.IntentID)
		pay.Problem = fmt.Sprintf("paid %s %s "+gone+": refund it in Stripe", FromMinor(ob.Amount, ob.Currency),
			ob.Currency, ob.Resource, ob.RecordID)
		return save(ctx, tx, pay, now)
	})
}

// observe reads what an event of a type Kiln acts on says.
func observe(ev *stripe.Event) (observation, bool, error) {
	ob := observation{EventID: ev.ID}
	var err error
	switch string(ev.Type) {
	case EventCheckoutCompleted, EventCheckoutAsyncPaid, EventCheckoutAsyncFailed, EventCheckoutExpired:
		var cs stripe.CheckoutSession
		err = json.Unmarshal(ev.Data.Raw, &cs)
		ob.SessionID, ob.Amount, ob.Currency = cs.ID, cs.AmountTotal, string(cs.Currency)
		ob.Resource, ob.RecordID, ob.Attempt = cs.Metadata[metaResource], cs.Metadata[metaRecord], attemptOf(cs.Metadata)
		if cs.PaymentIntent != nil {
			ob.IntentID = cs.PaymentIntent.ID
		}
		switch {
		case string(ev.Type) == EventCheckoutAsyncFailed:
			ob.To = StateFailed
		case string(ev.Type) == EventCheckoutExpired: // abandoned: it can no longer be paid
			ob.To = StateExpired
		case cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid:
			ob.To = StatePaid
		} // completed but unpaid (a delayed payment method): its ids only, the outcome follows
	case EventIntentSucceeded, EventIntentFailed:
		var pi stripe.PaymentIntent
		err = json.Unmarshal(ev.Data.Raw, &pi)
		ob.IntentID, ob.Amount, ob.Currency = pi.ID, pi.AmountReceived, string(pi.Currency)
		ob.Resource, ob.RecordID, ob.Attempt = pi.Metadata[metaResource], pi.Metadata[metaRecord], attemptOf(pi.Metadata)
		ob.To = StatePaid
		if string(ev.Type) == EventIntentFailed {
			ob.To = StateFailed
		}
	case EventChargeRefunded:
		var ch stripe.Charge
		err = json.Unmarshal(ev.Data.Raw, &ch)
		ob.Amount, ob.Currency = ch.Amount, string(ch.Currency)
		ob.Resource, ob.RecordID, ob.Attempt = ch.Metadata[metaResource], ch.Metadata[metaRecord], attemptOf(ch.Metadata)
		if ch.PaymentIntent != nil {
			ob.IntentID = ch.PaymentIntent.ID
		}
		if ch.Refunded { // a partial refund moves nothing
			ob.To = StateRefunded
		}
	default:
		return ob, false, nil
	}
	if err != nil {
		return ob, false, fmt.Errorf("read the %s event's object: %w", ev.Type, err)
	}
	return ob, true, nil
}

// attemptOf is the attempt Kiln's metadata names (kiln_attempt); 0 when it names none.
func attemptOf(meta map[string]string) int64 {
	n, err := strconv.ParseInt(meta[metaAttempt], 10, 64)
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// place finds the record an event belongs to when its object carries no Kiln metadata (a
// charge.refunded: sessions and intents without it are not Kiln's, HandleEvent): by the
// PaymentIntent or Checkout Session id stored with the payment.
func (p *Payments) place(ctx context.Context, ob *observation) error {
	if ob.Resource != "" && ob.RecordID != "" {
		return nil
	}
	reader := p.cfg.Store.Reader()
	res, id, err := findBy(ctx, reader, "intent_id", ob.IntentID)
	if err == nil && res == "" {
		res, id, err = findBy(ctx, reader, "session_id", ob.SessionID)
	}
	if err != nil {
		return err
	}
	if res == "" {
		return fmt.Errorf("%w (intent %q, session %q)", errUnknownPayment, ob.IntentID, ob.SessionID)
	}
	ob.Resource, ob.RecordID = res, id
	return nil
}

// readRecord reads a payable record inside tx, locked until tx ends (PostgreSQL), so the
// events of one record apply one after the other.
func readRecord(ctx context.Context, tx *store.Exec, resource, id string) (*store.Record, error) {
	if err := tx.LockRow(ctx, resource, id); err != nil {
		return nil, err
	}
	rec, err := tx.Get(ctx, resource, id, nil)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s %s", ErrNotFound, resource, id)
	}
	return rec, err
}
