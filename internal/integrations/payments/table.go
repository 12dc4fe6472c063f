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
	StateFailed   = "failed"   // the attempt's payment failed; the customer may try again
	StateExpired  = "expired"  // the attempt's session expired in Stripe (abandoned, or a later attempt expired it)
	StatePaid     = "paid"     // paid the record's amount; the record moved to paid
	StateMismatch = "mismatch" // paid, but not the record's amount: flagged, the record stays
	StateRefunded = "refunded" // refunded in full
)

func rank(state string) int {
	switch state {
	case StateOpen:
		return 1
	case StateFailed, StateExpired:
		return 2
	case StatePaid, StateMismatch:
		return 3
	case StateRefunded:
		return 4
	}
	return 0
}

// Payment is one attempt to pay a record: its row of kiln_payments. Each attempt has its
// own Checkout Session; the events of that session, its PaymentIntent and its refund apply
// to the attempt's row.
type Payment struct {
	Resource, RecordID string
	Attempt            int64 // 1, 2, … per record
	State              string
	Amount             int64 // minor units of Currency
	Currency           string
	AccountID          string
	SessionID          string
	SessionURL         string
	SessionExpiresAt   int64 // unix seconds
	IntentID           string
	RefundID           string
	PaidAmount         int64 // minor units Stripe reported paid; 0 until then
	Problem            string
	Moved              bool // this attempt's payment moved the record to paid
}

const paymentColumns = "resource, record_id, attempt, state, amount, currency, account_id, session_id, session_url, " +
	"session_expires_at, intent_id, refund_id, paid_amount, problem, moved"

// attempts reads a record's payment attempts, the latest first; none when it has none.
func attempts(ctx context.Context, ex *store.Exec, resource, id string) ([]*Payment, error) {
	rows, err := ex.QueryRaw(ctx, "SELECT "+paymentColumns+" FROM kiln_payments WHERE resource = ? AND record_id = ? ORDER BY attempt DESC", resource, id)
	if err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	defer rows.Close()
	var out []*Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("read payments: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

// scanPayment reads a row of paymentColumns and then, into extra, the columns that follow.
func scanPayment(rows scanner, extra ...any) (*Payment, error) {
	var p Payment
	var account, sess, url, intent, refund, problem sql.NullString
	var expires, paid sql.NullInt64
	var moved int64
	dest := []any{&p.Resource, &p.RecordID, &p.Attempt, &p.State, &p.Amount, &p.Currency, &account, &sess, &url,
		&expires, &intent, &refund, &paid, &problem, &moved}
	if err := rows.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	p.AccountID, p.SessionID, p.SessionURL, p.IntentID = account.String, sess.String, url.String, intent.String
	p.RefundID, p.Problem, p.SessionExpiresAt, p.PaidAmount, p.Moved = refund.String, problem.String, expires.Int64, paid.Int64, moved == 1
	return &p, nil
}

// attempt reads one attempt of a record; nil when there is no such attempt.
func attempt(ctx context.Context, ex *store.Exec, resource, id string, n int64) (*Payment, error) {
	all, err := attempts(ctx, ex, resource, id)
	for _, a := range all {
		if a.Attempt == n {
			return a, err
		}
	}
	return nil, err
}

// insert writes a new attempt.
func insert(ctx context.Context, ex *store.Exec, p *Payment, now int64) error {
	err := ex.ExecRaw(ctx, "INSERT INTO kiln_payments ("+paymentColumns+", created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		p.Resource, p.RecordID, p.Attempt, p.State, p.Amount, p.Currency, null(p.AccountID), null(p.SessionID), null(p.SessionURL),
		nullInt(p.SessionExpiresAt), null(p.IntentID), null(p.RefundID), nullInt(p.PaidAmount), null(p.Problem), flag(p.Moved), now, now)
	if err != nil {
		return fmt.Errorf("record payment: %w", err)
	}
	return nil
}

// save writes every column of an attempt back.
func save(ctx context.Context, ex *store.Exec, p *Payment, now int64) error {
	err := ex.ExecRaw(ctx, "UPDATE kiln_payments SET state = ?, amount = ?, currency = ?, account_id = ?, session_id = ?, "+
		"session_url = ?, session_expires_at = ?, intent_id = ?, refund_id = ?, paid_amount = ?, problem = ?, moved = ?, updated_at = ? "+
		"WHERE resource = ? AND record_id = ? AND attempt = ?",
		p.State, p.Amount, p.Currency, null(p.AccountID), null(p.SessionID), null(p.SessionURL), nullInt(p.SessionExpiresAt),
		null(p.IntentID), null(p.RefundID), nullInt(p.PaidAmount), null(p.Problem), flag(p.Moved), now, p.Resource, p.RecordID, p.Attempt)
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

func flag(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}
