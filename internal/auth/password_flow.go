package auth

import (
	"context"
	"errors"
	"time"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Token purposes and lifetimes.
const (
	purposeReset  = "password_reset"
	purposeVerify = "email_verify"
	resetTTL      = time.Hour
	verifyTTL     = 48 * time.Hour
)

var errBadActionToken = service.Errorf(service.CodeUnauthorized, "the link is not valid, already used or expired")

// ChangePassword sets a new password after checking the current one, and ends every other
// session of the account.
func (a *Accounts) ChangePassword(ctx context.Context, p *service.Principal, current, next string) error {
	rec, err := a.withCurrentPassword(ctx, p, current)
	if err != nil {
		return err
	}
	if err := a.setPassword(ctx, rec.ID, next); err != nil {
		return err
	}
	return a.cfg.Sessions.RevokeAccount(ctx, rec.ID, p.SessionID)
}

// withCurrentPassword loads the principal's account after checking its current password:
// what a stolen access token alone cannot give.
func (a *Accounts) withCurrentPassword(ctx context.Context, p *service.Principal, current string) (*store.Record, error) {
	if p == nil || p.ID == "" {
		return nil, service.Errorf(service.CodeUnauthorized, "sign in with an account first")
	}
	rec, err := a.account(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	hash, _ := a.value(rec, spec.FieldPasswordHash).(string)
	if ok, _, _ := a.cfg.Hasher.Verify(ctx, current, hash); !ok {
		return nil, &service.Error{Code: service.CodeValidation, Message: "the current password is wrong",
			Fields: []service.FieldError{{Field: "current_password", Code: "mismatch", Message: "is not the current password"}}}
	}
	return rec, nil
}

func (a *Accounts) setPassword(ctx context.Context, id, password string) error {
	_, err := a.cfg.Service.Update(service.AsSystem(ctx), a.resource.Name, id, map[string]any{spec.FieldPassword: password}, false, service.WriteOpts{})
	return renameField(err, spec.FieldPassword, "new_password")
}

// renameField reports a password problem under the field name the endpoint uses.
func renameField(err error, from, to string) error {
	var e *service.Error
	if errors.As(err, &e) {
		for i := range e.Fields {
			if e.Fields[i].Field == from {
				e.Fields[i].Field = to
			}
		}
	}
	return err
}

// ConfirmReset sets a new password with a reset token and ends every session of the account.
// A password the write would refuse is refused before the code is spent, and a write that
// fails after it gives the code back: a typo must not cost the account a new mail (a trial
// got 401 for the right password after a 400 for a short one).
func (a *Accounts) ConfirmReset(ctx context.Context, token, password string) error {
	if code, msg := service.PasswordProblem(password); code != "" {
		return &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields",
			Fields: []service.FieldError{{Field: "new_password", Code: code, Message: msg}}}
	}
	id, err := a.useActionToken(ctx, purposeReset, token)
	if err != nil {
		return err
	}
	if err := a.setPassword(ctx, id, password); err != nil {
		return a.giveBack(ctx, err, purposeReset, token)
	}
	return a.cfg.Sessions.RevokeAccount(ctx, id, "")
}

// RequestVerification mails a code that proves the signed-in account owns its email.
func (a *Accounts) RequestVerification(ctx context.Context, p *service.Principal) error {
	if p == nil || p.ID == "" {
		return service.Errorf(service.CodeUnauthorized, "sign in first")
	}
	rec, err := a.account(ctx, p.ID)
	if err != nil {
		return err
	}
	token, err := a.issueActionToken(ctx, purposeVerify, rec.ID, verifyTTL)
	if err != nil {
		return err
	}
	return a.mail(ctx, rec, "verify", token)
}

// ConfirmVerification marks the account's email verified.
func (a *Accounts) ConfirmVerification(ctx context.Context, token string) error {
	id, err := a.useActionToken(ctx, purposeVerify, token)
	if err != nil {
		return err
	}
	_, err = a.cfg.Service.Update(service.AsSystem(ctx), a.resource.Name, id, map[string]any{spec.FieldVerified: true}, false, service.WriteOpts{})
	return err
}

// mail sends the account mail kind with token to rec's address.
func (a *Accounts) mail(ctx context.Context, rec *store.Record, kind, token string) error {
	to, _ := a.value(rec, spec.FieldEmail).(string)
	return a.sendMail(ctx, kind, to, map[string]any{"token": token})
}

func (a *Accounts) issueActionToken(ctx context.Context, purpose, accountID string, ttl time.Duration) (string, error) {
	token := random()
	err := a.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "INSERT INTO kiln_action_tokens (token_hash, purpose, account_id, expires_at) VALUES (?, ?, ?, ?)",
			hashToken(token), purpose, accountID, a.cfg.Now().Add(ttl).UnixMicro())
	})
	return token, err
}

// useActionToken spends a token once and returns the account it names.
func (a *Accounts) useActionToken(ctx context.Context, purpose, token string) (string, error) {
	row, err := a.spendActionToken(ctx, purpose, token)
	if err != nil {
		return "", err
	}
	return row.account, nil
}

type actionRow struct{ account, email, role string }

// giveBack makes a token spent for a write that then failed (err) usable again, until it
// expires as before, and returns err (with the give-back's own failure, if any).
func (a *Accounts) giveBack(ctx context.Context, err error, purpose, token string) error {
	bg := context.WithoutCancel(ctx) // given back even when the request has ended
	uerr := a.cfg.Store.InTx(bg, func(tx *store.Exec) error {
		return tx.ExecRaw(bg, "UPDATE kiln_action_tokens SET used_at = NULL WHERE token_hash = ? AND purpose = ?", hashToken(token), purpose)
	})
	if uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// spendActionToken marks a token used — the conditional update is the check — and returns its row.
func (a *Accounts) spendActionToken(ctx context.Context, purpose, token string) (*actionRow, error) {
	if token == "" || len(token) > 100 {
		return nil, errBadActionToken
	}
	var row actionRow
	err := a.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		now := a.cfg.Now().UnixMicro()
		n, err := tx.ExecRawCount(ctx, "UPDATE kiln_action_tokens SET used_at = ? WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
			now, hashToken(token), purpose, now)
		if err != nil {
			return err
		}
		if n != 1 {
			return errBadActionToken
		}
		rows, err := tx.QueryRaw(ctx, "SELECT account_id, COALESCE(email, ''), COALESCE(role, '') FROM kiln_action_tokens WHERE token_hash = ?", hashToken(token))
		if err != nil {
			return err
		}
		defer rows.Close()
		if rows.Next() {
			return rows.Scan(&row.account, &row.email, &row.role)
		}
		return errBadActionToken
	})
	if err != nil {
		return nil, err
	}
	return &row, nil
}
