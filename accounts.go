package kiln

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// ErrNoAccounts means the spec has no auth block.
var ErrNoAccounts = errors.New("the spec has no auth block, so no accounts")

// ErrNoSuchAccount means no account has the email.
var ErrNoSuchAccount = errors.New("no account has that email")

// CreateAccount adds an account as the operator (any role, no access rule applies).
func (a *App) CreateAccount(ctx context.Context, email, role, name, password string) (*store.Record, error) {
	var fields map[string]any
	if name != "" {
		fields = map[string]any{"name": name}
	}
	return a.CreateAccountWith(ctx, email, role, password, fields)
}

// CreateAccountWith adds an account with more fields, typed like decoded JSON (strings,
// bool, json.Number, lists of ids), as the operator. The fields are validated exactly as an
// API create validates them.
func (a *App) CreateAccountWith(ctx context.Context, email, role, password string, fields map[string]any) (*store.Record, error) {
	if a.Spec.Auth == nil {
		return nil, ErrNoAccounts
	}
	in := map[string]any{spec.FieldEmail: email, spec.FieldRole: role}
	for k, v := range fields {
		in[k] = v
	}
	if password != "" {
		in[spec.FieldPassword] = password
	}
	return a.Service.Create(service.AsSystem(ctx), a.Spec.Auth.Account, in, service.WriteOpts{})
}

// UpdateAccount changes fields of the account with email, as the operator.
func (a *App) UpdateAccount(ctx context.Context, email string, in map[string]any) (*store.Record, error) {
	rec, err := a.accountByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	return a.Service.Update(service.AsSystem(ctx), a.Spec.Auth.Account, rec.ID, in, false, service.WriteOpts{})
}

func (a *App) accountByEmail(ctx context.Context, email string) (*store.Record, error) {
	if a.Spec.Auth == nil {
		return nil, ErrNoAccounts
	}
	res, err := a.Store.Reader().List(ctx, a.Spec.Auth.Account, query.List{Limit: 1,
		Where: query.Compare{Field: spec.FieldEmail, Op: query.Eq, Value: strings.ToLower(strings.TrimSpace(email))}})
	if err != nil {
		return nil, fmt.Errorf("find account: %w", err)
	}
	if len(res.Records) == 0 {
		return nil, ErrNoSuchAccount
	}
	return res.Records[0], nil
}

// ErrNoSuchKey means no active API key has that id or prefix.
var ErrNoSuchKey = errors.New("no active API key has that id or prefix")
