package payments

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kiln-dev/kiln/internal/store"
)

// Payment states, in the order they may follow each other: a state never goes back to
// one of a lower rank, so an event that arrives late (or twice) changes nothing.
const (
	StateOpen     = "open"     // a session was opened; nothing paid yet
	StateFailed   = "failed"   // the last attempt failed; the customer may try again
	StatePaid     = "paid"     // paid the record's amount; the record moved to paid
	StateMismatch = "mismatch" // paid, but not the record's amount: flagged, the record stays
	StateRefunded = "refunded" // refunded in full
)

func rank(state string) int {
	switch state {
	case StateOpen:
		return 1
	case StateFailed:
		return 2
	case StatePaid, StateMismatch:
		return 3
	case StateRefunded:
		return 4
	}
	return 0
}

// Payment is a record's row of kiln_payments.
type Payment struct {
	Resource, RecordID string
	State              string
	Amount             int64 // minor units of Currency
	Currency           string
	Attempt            int64
	AccountID          string
	SessionID          string
	SessionURL         string
	SessionExpiresAt   int64 // unix seconds
	IntentID           string
	RefundID           string
	PaidAmount         int64 // minor units Stripe reported paid; 0 until then
	Problem            string
}

const paymentColumns = "resource, record_id, state, amount, currency, attempt, account_id, session_id, session_url, " +
	"session_expires_at, intent_id, refund_id, paid_amount, problem"

// load reads a record's payment; nil when it has none.
func load(ctx context.Context, ex *store.Exec, resource, id string) (*Payment, error) {
	rows, err := ex.QueryRaw(ctx, "SELECT "+paymentColumns+" FROM kiln_payments WHERE resource = ? AND record_id = ?", resource, id)
	if err != nil {
		return nil, fmt.Errorf("read payment: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var p Payment
	var account, sess, url, intent, refund, problem sql.NullString
	var expires, paid sql.NullInt64
	if err := rows.Scan(&p.Resource, &p.RecordID, &p.State, &p.Amount, &p.Currency, &p.Attempt, &account, &sess, &url,
		&expires, &intent, &refund, &paid, &problem); err != nil {
		return nil, fmt.Errorf("read payment: %w", err)
	}
	p.AccountID, p.SessionID, p.SessionURL, p.IntentID = account.String, sess.String, url.String, intent.String
	p.RefundID, p.Problem, p.SessionExpiresAt, p.PaidAmount = refund.String, problem.String, expires.Int64, paid.Int64
	return &p, rows.Err()
}

// insert writes a new payment row.
func insert(ctx context.Context, ex *store.Exec, p *Payment, now int64) error {
	err := ex.ExecRaw(ctx, "INSERT INTO kiln_payments ("+paymentColumns+", created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		p.Resource, p.RecordID, p.State, p.Amount, p.Currency, p.Attempt, null(p.AccountID), null(p.SessionID), null(p.SessionURL),
		nullInt(p.SessionExpiresAt), null(p.IntentID), null(p.RefundID), nullInt(p.PaidAmount), null(p.Problem), now, now)
	if err != nil {
		return fmt.Errorf("record payment: %w", err)
	}
	return nil
}

// save writes every column of p back.
func save(ctx context.Context, ex *store.Exec, p *Payment, now int64) error {
	err := ex.ExecRaw(ctx, "UPDATE kiln_payments SET state = ?, amount = ?, currency = ?, attempt = ?, account_id = ?, session_id = ?, "+
		"session_url = ?, session_expires_at = ?, intent_id = ?, refund_id = ?, paid_amount = ?, problem = ?, updated_at = ? "+
		"WHERE resource = ? AND record_id = ?",
		p.State, p.Amount, p.Currency, p.Attempt, null(p.AccountID), null(p.SessionID), null(p.SessionURL), nullInt(p.SessionExpiresAt),
		null(p.IntentID), null(p.RefundID), nullInt(p.PaidAmount), null(p.Problem), now, p.Resource, p.RecordID)
	if err != nil {
		return fmt.Errorf("update payment: %w", err)
	}
	return nil
}

// findBy returns the record a Stripe id (a PaymentIntent's or a Checkout Session's) belongs to.
func findBy(ctx context.Context, ex *store.Exec, column, id string) (resource, record string, err error) {
	if id == "" {
		return "", "", nil
	}
	q := "SELECT resource, record_id FROM kiln_payments WHERE intent_id = ?"
	if column == "session_id" {
		q = "SELECT resource, record_id FROM kiln_payments WHERE session_id = ?"
	}
	rows, err := ex.QueryRaw(ctx, q, id)
	if err != nil {
		return "", "", fmt.Errorf("find payment: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&resource, &record)
	}
	return resource, record, cmpErr(err, rows.Err())
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}
