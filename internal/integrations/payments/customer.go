package payments

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// customer returns the account's Stripe customer, creating it the first time. The account's
// row in kiln_payment_customers is claimed (an insert only one process wins) before Stripe
// is called, so concurrent pay calls create one customer: the others wait for the winner's
// id. A claim older than twice the call timeout (its process died) is taken over; the
// idempotency key makes Stripe answer the taken-over call with the same customer.
func (p *Payments) customer(ctx context.Context, account, email string) (string, error) {
	return p.claimedCustomer(ctx, account, email, "kiln_customer_"+account)
}

// replaceCustomer drops the account's customer that Stripe no longer has (deleted in its
// Dashboard) and makes a new one the same way, once: calls that found the same customer
// gone send the same idempotency key (named after it), so Stripe makes one customer.
func (p *Payments) replaceCustomer(ctx context.Context, account, email, gone string) (string, error) {
	err := p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "DELETE FROM kiln_payment_customers WHERE account_id = ? AND customer_id = ?", account, gone)
	})
	if err != nil {
		return "", fmt.Errorf("drop the account's customer: %w", err)
	}
	p.cfg.Logger.WarnContext(ctx, "the account's Stripe customer is gone: making a new one", "account_id", account, "customer", gone)
	return p.claimedCustomer(ctx, account, email, "kiln_customer_"+account+"_after_"+gone)
}

// claimedCustomer is customer with the idempotency key of the creation call.
func (p *Payments) claimedCustomer(ctx context.Context, account, email, key string) (string, error) {
	stale := 2 * p.cfg.Spec.Payments.Timeout
	deadline := p.now().Add(stale + p.cfg.Spec.Payments.Timeout)
	for {
		id, claimed, err := p.claimCustomer(ctx, account, stale)
		if err != nil || id != "" {
			return id, err
		}
		if claimed {
			return p.createCustomer(ctx, account, email, key)
		}
		if p.now().After(deadline) {
			return "", fmt.Errorf("%w: the account's customer is still being created", ErrProvider)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(p.cfg.Poll):
		}
	}
}

// claimCustomer returns the account's customer id when there is one, or whether this call
// claimed the right to create it.
func (p *Payments) claimCustomer(ctx context.Context, account string, stale time.Duration) (string, bool, error) {
	var id string
	var claimed bool
	err := p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		id, claimed = "", false
		now := p.now().UnixMicro()
		n, err := tx.ExecRawCount(ctx, "INSERT INTO kiln_payment_customers (account_id, claimed_at, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", account, now, now)
		if err != nil || n == 1 {
			claimed = n == 1
			return err
		}
		var cust sql.NullString
		var at int64
		if err := scanOne(ctx, tx, "SELECT customer_id, claimed_at FROM kiln_payment_customers WHERE account_id = ?", []any{account}, &cust, &at); err != nil {
			return err
		}
		if cust.String != "" || now-at < stale.Microseconds() {
			id = cust.String
			return nil
		}
		n, err = tx.ExecRawCount(ctx, "UPDATE kiln_payment_customers SET claimed_at = ? WHERE account_id = ? AND claimed_at = ? AND customer_id IS NULL", now, account, at)
		claimed = n == 1
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("claim the account's customer: %w", err)
	}
	return id, claimed, nil
}

func (p *Payments) createCustomer(ctx context.Context, account, email, key string) (string, error) {
	c, err := p.stripe.customer(ctx, account, email, key)
	if err != nil {
		// Let the next pay call claim it again at once rather than after the stale wait.
		_, _ = p.releaseClaim(context.WithoutCancel(ctx), account)
		return "", err
	}
	err = p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "UPDATE kiln_payment_customers SET customer_id = ? WHERE account_id = ?", c.ID, account)
	})
	if err != nil {
		return "", fmt.Errorf("store the account's customer: %w", err)
	}
	return c.ID, nil
}

func (p *Payments) releaseClaim(ctx context.Context, account string) (int64, error) {
	var n int64
	err := p.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		var err error
		n, err = tx.ExecRawCount(ctx, "DELETE FROM kiln_payment_customers WHERE account_id = ? AND customer_id IS NULL", account)
		return err
	})
	return n, err
}

// scanOne reads the one row q returns into dest; store.ErrNotFound when there is none.
func scanOne(ctx context.Context, ex *store.Exec, q string, args []any, dest ...any) error {
	rows, err := ex.QueryRaw(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		return cmpErr(rows.Err(), store.ErrNotFound)
	}
	return cmpErr(rows.Scan(dest...), rows.Err())
}
