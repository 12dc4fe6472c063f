package auth

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

const (
	purposeInvite = "invite"
	inviteTTL     = 7 * 24 * time.Hour
	// FieldInvite is the sign-up body key that carries an invitation code.
	FieldInvite = "invite"
)

// Invite mails a single-use invitation (valid 7 days) to email; signing up with it gives the
// new account role. Only admin accounts invite.
func (a *Accounts) Invite(ctx context.Context, p *service.Principal, email, role string) error {
	if p == nil {
		return service.Errorf(service.CodeUnauthorized, "sign in with an account of an administering role (auth.admin_roles) to invite")
	}
	if p.KeyID != "" || !a.cfg.Spec.Auth.IsAdmin(p.Role) {
		return service.Errorf(service.CodeForbidden, "only accounts of the administering roles (%s) invite (auth.admin_roles)", service.RoleList(a.cfg.Spec.Auth.AdminRoles))
	}
	email = strings.ToLower(strings.TrimSpace(email))
	var errs []service.FieldError
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		errs = append(errs, service.FieldError{Field: "email", Code: "format", Message: "must be an email address"})
	}
	if !slices.Contains(a.cfg.Spec.Roles, role) {
		errs = append(errs, service.FieldError{Field: "role", Code: "enum", Message: "must be one of: " + strings.Join(a.cfg.Spec.Roles, ", ")})
	}
	if len(errs) > 0 {
		return &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields", Fields: errs}
	}
	token := random()
	err := a.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "INSERT INTO kiln_action_tokens (token_hash, purpose, account_id, expires_at, email, role) VALUES (?, ?, ?, ?, ?, ?)",
			hashToken(token), purposeInvite, p.ID, a.cfg.Now().Add(inviteTTL).UnixMicro(), email, role)
	})
	if err != nil {
		return err
	}
	return a.sendMail(ctx, "invite", email, map[string]any{"token": token, "role": role})
}

// redeemInvite spends the invitation in in (if any) and returns the role it grants. The
// sign-up email must be the invited one.
func (a *Accounts) redeemInvite(ctx context.Context, in map[string]any) (string, error) {
	raw, given := in[FieldInvite]
	if !given {
		if a.cfg.Spec.Auth.Signup == "invite" {
			return "", &service.Error{Code: service.CodeValidation, Message: "sign-up is by invitation",
				Fields: []service.FieldError{{Field: FieldInvite, Code: "required", Message: "give the invitation code you were mailed"}}}
		}
		return "", nil
	}
	delete(in, FieldInvite)
	code, _ := raw.(string)
	email, _ := in[spec.FieldEmail].(string)
	if invited, err := a.invitedEmail(ctx, code); err != nil {
		return "", err
	} else if !strings.EqualFold(strings.TrimSpace(email), invited) {
		// Checked before spending, so a typo does not burn the invitation.
		return "", &service.Error{Code: service.CodeValidation, Message: "the invitation is for another address",
			Fields: []service.FieldError{{Field: spec.FieldEmail, Code: "mismatch", Message: "must be the invited address"}}}
	}
	row, err := a.spendActionToken(ctx, purposeInvite, code)
	if err != nil {
		return "", err
	}
	return row.role, nil
}

// invitedEmail reads the address of a usable invitation.
func (a *Accounts) invitedEmail(ctx context.Context, code string) (string, error) {
	if code == "" || len(code) > 100 {
		return "", errBadActionToken
	}
	rows, err := a.cfg.Store.Reader().QueryRaw(ctx, "SELECT COALESCE(email, '') FROM kiln_action_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
		hashToken(code), purposeInvite, a.cfg.Now().UnixMicro())
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var email string
	if !rows.Next() {
		return "", errBadActionToken
	}
	return email, rows.Scan(&email)
}
