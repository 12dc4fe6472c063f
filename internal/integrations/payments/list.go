package payments

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// States are the states a payment attempt can be in, in rank order.
var States = []string{StateOpen, StateFailed, StateExpired, StatePaid, StateMismatch, StateRefunded}

// FilterError is a listing filter that names no payable resource or no state.
type FilterError struct{ Field, Message string }

func (e *FilterError) Error() string { return "payments filter " + e.Field + ": " + e.Message }

// Key is an attempt's place in the listing's order (newest first): where a page ends.
type Key struct {
	CreatedAt int64  `json:"t"` // unix microseconds
	Resource  string `json:"r"`
	RecordID  string `json:"i"`
	Attempt   int64  `json:"a"`
}

// ListOpts select payment attempts for the operators' listing.
type ListOpts struct {
	Resource string // a payable resource; "" for all
	RecordID string // with Resource: that record's attempts
	State    string // one of States; "" for all
	Problem  *bool  // true: only attempts with a problem not refunded yet; false: only the others
	After    *Key   // the previous page's last attempt
	Limit    int    // default 50, at most 500
}

// Listed is an attempt as the listing shows it.
type Listed struct {
	Payment
	CreatedAt, UpdatedAt time.Time
}

// Key is the attempt's place in the listing.
func (l *Listed) Key() Key {
	return Key{CreatedAt: l.CreatedAt.UnixMicro(), Resource: l.Resource, RecordID: l.RecordID, Attempt: l.Attempt}
}

// List reads payment attempts, newest first (by when the attempt was opened), for the
// operators: the problems an event left (a mismatched sum, a payment of a deleted record)
// are read here rather than from the table.
func (p *Payments) List(ctx context.Context, o ListOpts) ([]*Listed, error) {
	if err := p.checkFilter(o); err != nil {
		return nil, err
	}
	q, args := listQuery(o)
	rows, err := p.cfg.Store.Reader().QueryRaw(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	defer rows.Close()
	var out []*Listed
	for rows.Next() {
		l, err := scanListed(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (p *Payments) checkFilter(o ListOpts) error {
	if o.Resource != "" {
		if _, err := p.payable(o.Resource); err != nil {
			return &FilterError{Field: "resource", Message: "payable resources: " + strings.Join(p.payableNames(), ", ")}
		}
	}
	if o.State != "" && !slices.Contains(States, o.State) {
		return &FilterError{Field: "state", Message: "must be one of " + strings.Join(States, ", ")}
	}
	return nil
}

// payableNames are the spec's payable resources, in the spec's order.
func (p *Payments) payableNames() []string {
	var names []string
	for _, r := range p.cfg.Spec.Resources {
		if r.Payable != nil {
			names = append(names, r.Name)
		}
	}
	return names
}

// listQuery is the listing's statement: fixed text, every value a parameter.
func listQuery(o ListOpts) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, vals ...any) { conds, args = append(conds, cond), append(args, vals...) }
	if o.Resource != "" {
		add("resource = ?", o.Resource)
	}
	if o.RecordID != "" {
		add("record_id = ?", o.RecordID)
	}
	if o.State != "" {
		add("state = ?", o.State)
	}
	// a problem still needs someone until its attempt is refunded (the text stays, as history)
	if o.Problem != nil && *o.Problem {
		add("COALESCE(problem, '') <> '' AND state <> ?", StateRefunded)
	} else if o.Problem != nil {
		add("(COALESCE(problem, '') = '' OR state = ?)", StateRefunded)
	}
	if k := o.After; k != nil {
		add("(created_at, resource, record_id, attempt) < (?, ?, ?, ?)", k.CreatedAt, k.Resource, k.RecordID, k.Attempt)
	}
	q := "SELECT " + paymentColumns + ", created_at, updated_at FROM kiln_payments"
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	limit := o.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	return q + " ORDER BY created_at DESC, resource DESC, record_id DESC, attempt DESC LIMIT ?", append(args, limit)
}

func scanListed(rows scanner) (*Listed, error) {
	var created, updated int64
	p, err := scanPayment(rows, &created, &updated)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return &Listed{Payment: *p, CreatedAt: time.UnixMicro(created).UTC(), UpdatedAt: time.UnixMicro(updated).UTC()}, nil
}
