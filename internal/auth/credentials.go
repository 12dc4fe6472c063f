package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// ChangeEmail moves the signed-in account to a new address after checking its current
// password. The account becomes unverified, a verification code goes to the new address and
// a notice to the old one, so a takeover through a changed address does not go unnoticed.
func (a *Accounts) ChangeEmail(ctx context.Context, p *service.Principal, current, email string) (*store.Record, error) {
	rec, err := a.withCurrentPassword(ctx, p, current)
	if err != nil {
		return nil, err
	}
	old, _ := a.value(rec, spec.FieldEmail).(string)
	if strings.EqualFold(strings.TrimSpace(email), old) {
		return nil, &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields",
			Fields: []service.FieldError{{Field: "new_email", Code: "unchanged", Message: "is the account's current address"}}}
	}
	updated, err := a.cfg.Service.Update(service.AsSystem(ctx), a.resource.Name, rec.ID,
		map[string]any{spec.FieldEmail: email, spec.FieldVerified: false}, false, service.WriteOpts{})
	if err != nil {
		return nil, renameField(err, spec.FieldEmail, "new_email")
	}
	next, _ := a.value(updated, spec.FieldEmail).(string)
	token, err := a.issueActionToken(ctx, purposeVerify, rec.ID, verifyTTL)
	if err != nil {
		return nil, err
	}
	if err := a.sendMail(ctx, "confirm_new_email", next, map[string]any{"token": token}); err != nil {
		return nil, err
	}
	return updated, a.sendMail(ctx, "email_changed", old, map[string]any{"new_email": next})
}

// ResetAccountPassword is the administrators' explicit path to set another account's
// password: it needs an account (not an API key) of an administering role, refuses the
// caller's own account (that needs the current password), and ends every session of the
// account it resets.
func (a *Accounts) ResetAccountPassword(ctx context.Context, p *service.Principal, id, password string) error {
	switch {
	case p == nil:
		return service.Errorf(service.CodeUnauthorized, "sign in with an account of an administering role (auth.admin_roles)")
	case p.KeyID != "" || !a.cfg.Spec.Auth.IsAdmin(p.Role):
		return service.Errorf(service.CodeForbidden, "only accounts of the administering roles (%s) reset other accounts' passwords (auth.admin_roles)",
			service.RoleList(a.cfg.Spec.Auth.AdminRoles))
	case p.ID == id:
		return service.Errorf(service.CodeForbidden, "change your own password with POST %s/auth/password (it needs the current one)",
			a.cfg.Spec.Server.BasePath)
	}
	if _, err := uuid.Parse(id); err != nil {
		return service.Errorf(service.CodeNotFound, "%s record not found", a.resource.Name)
	}
	if _, err := a.cfg.Store.Reader().Get(ctx, a.resource.Name, id, nil); errors.Is(err, store.ErrNotFound) {
		return service.Errorf(service.CodeNotFound, "%s record not found", a.resource.Name)
	} else if err != nil {
		return err
	}
	if err := a.setPassword(ctx, id, password); err != nil {
		return err
	}
	return a.cfg.Sessions.RevokeAccount(ctx, id, "")
}
