package kiln

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kiln-dev/kiln/internal/api/rest"
	"github.com/kiln-dev/kiln/internal/integrations/payments"
	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// newPayments wires Stripe payments when the spec declares them; the secret key comes only
// from the environment (STRIPE_SECRET_KEY).
func (a *App) newPayments(cfg Config) error {
	if !a.Spec.Payments.Enabled() {
		return nil
	}
	key, _ := cfg.LookupEnv("STRIPE_SECRET_KEY")
	p, err := payments.New(payments.Config{Spec: a.Spec, Store: a.Store, Records: paymentRecords{svc: a.Service},
		SecretKey: key, Logger: cfg.Logger, Now: cfg.paymentsNow})
	if err != nil {
		return err
	}
	a.payments = p
	return nil
}

// paymentRecords moves payable records through the write pipeline on the system's
// authority, in the transaction that records the payment.
type paymentRecords struct{ svc *service.Service }

var _ payments.Records = paymentRecords{}

func (r paymentRecords) InTx(ctx context.Context, fn func(ctx context.Context, tx *store.Exec, move payments.MoveFunc) error) error {
	return r.svc.InSystemTx(ctx, func(ctx context.Context, t *service.Tx, tx *store.Exec) error {
		return fn(ctx, tx, func(ctx context.Context, resource, id, field, to string) error {
			_, err := t.Update(ctx, resource, id, map[string]any{field: to})
			return err
		})
	})
}

// paymentEvents applies the events Stripe sends to the payments endpoint.
func (a *App) paymentEvents() jobs.Handler {
	return func(ctx context.Context, j *jobs.Job) error {
		var args webhooks.Incoming
		if err := json.Unmarshal(j.Args, &args); err != nil {
			return jobs.Permanent(fmt.Errorf("decode the job's args: %w", err))
		}
		if a.payments == nil {
			return fmt.Errorf("payments are not wired in this process")
		}
		return jobError(a.payments.HandleEvent(ctx, args.Payload))
	}
}

// payRoutes serves pay and refund: who may pay is who may view the record (a record the
// caller cannot see is 404); who may refund holds one of payable.refund's roles.
type payRoutes struct{ a *App }

var _ rest.Payments = payRoutes{}

func (p payRoutes) Pay(ctx context.Context, resource, id string) (*payments.Checkout, error) {
	if _, _, err := p.a.Service.Get(ctx, resource, id, nil); err != nil {
		return nil, err
	}
	in := payments.PayInput{Resource: resource, ID: id}
	if pr := service.PrincipalFrom(ctx); pr != nil && pr.ID != "" && p.a.Spec.Auth != nil {
		in.AccountID, in.Email = pr.ID, p.a.accountEmail(ctx, pr.ID)
	}
	return p.a.payments.Pay(ctx, in)
}

func (p payRoutes) Refund(ctx context.Context, resource, id string) (*payments.Payment, error) {
	r := p.a.Spec.Resource(resource)
	if p.a.Spec.Auth != nil && !service.PrincipalFrom(ctx).HasRole(r.Payable.Refund...) {
		if service.PrincipalFrom(ctx) == nil {
			return nil, service.Errorf(service.CodeUnauthorized, "refunds need credentials")
		}
		return nil, service.Errorf(service.CodeForbidden, "refunds need one of the roles %v", r.Payable.Refund)
	}
	// a refund writes (money back, the record moved): an API key needs a write scope of the
	// resource, as for its actions, besides the view the read below checks
	if pr := service.PrincipalFrom(ctx); pr != nil && pr.KeyID != "" && !service.ScopeAllows(pr.Scopes, resource, "action:refund") {
		return nil, service.Errorf(service.CodeForbidden, "the API key's scopes do not cover refund on %s (it needs %s:write)", resource, resource)
	}
	if _, _, err := p.a.Service.Get(ctx, resource, id, nil); err != nil {
		return nil, err
	}
	return p.a.payments.Refund(ctx, resource, id)
}

// List reads the payment attempts for the administering accounts (the route lets only them in).
func (p payRoutes) List(ctx context.Context, o payments.ListOpts) ([]*payments.Listed, error) {
	return p.a.payments.List(ctx, o)
}

// accountEmail is the account's email, for its Stripe customer; "" when unknown.
func (a *App) accountEmail(ctx context.Context, id string) string {
	r := a.Spec.Resource(a.Spec.Auth.Account)
	rec, err := a.Store.Reader().Get(ctx, r.Name, id, nil)
	if err != nil {
		return ""
	}
	for i, f := range r.Fields {
		if f.Name == spec.FieldEmail && i < len(rec.Values) {
			s, _ := rec.Values[i].(string)
			return s
		}
	}
	return ""
}
