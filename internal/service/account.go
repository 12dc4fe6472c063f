package service

import (
	"context"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// guardAccountUpdate keeps credentials out of plain record updates of the account resource:
// a stolen access token alone must not be able to take an account over. A password is never
// set by PATCH or PUT (POST auth/password needs the current one; admins reset others through
// POST auth/accounts/{id}/password); an account changing its own email goes through POST
// auth/email, which needs the current password. An administrator changing another account's
// email makes it unverified unless the same request says otherwise.
func (s *Service) guardAccountUpdate(ctx context.Context, r *resource, cur *store.Record, in map[string]any) (map[string]any, error) {
	if r.Name != s.account || isSystem(ctx) {
		return in, nil
	}
	base := s.spec.Server.BasePath
	var errs fieldErrors
	if s.emailChanges(r, cur, in) {
		if p := PrincipalFrom(ctx); p != nil && p.ID == cur.ID {
			errs.add(spec.FieldEmail, "not_allowed", "change your email with POST %s/auth/email (it needs the current password)", base)
		} else if _, given := in[spec.FieldVerified]; !given {
			in = withValue(in, spec.FieldVerified, false)
		}
	}
	if err := errs.err(CodeValidation, "the request has invalid fields"); err != nil {
		return nil, err
	}
	return in, nil
}

// refusePasswordUpdate answers a password in a plain update of the account resource, before
// any hashing is spent on it.
func (s *Service) refusePasswordUpdate(ctx context.Context, r *resource, in map[string]any) error {
	if _, given := in[spec.FieldPassword]; !given || r.Name != s.account || isSystem(ctx) {
		return nil
	}
	base := s.spec.Server.BasePath
	return &Error{Code: CodeValidation, Message: "the request has invalid fields", Fields: []FieldError{{
		Field: spec.FieldPassword, Code: "not_allowed",
		Message: "change a password with POST " + base + "/auth/password (it needs the current one); administrators reset " +
			"another account's with POST " + base + "/auth/accounts/{id}/password"}}}
}

// emailChanges reports whether in sets the account's email to another address.
func (s *Service) emailChanges(r *resource, cur *store.Record, in map[string]any) bool {
	raw, given := in[spec.FieldEmail]
	f := r.Field(spec.FieldEmail)
	if !given || f == nil {
		return false
	}
	next, code, _ := coerce(f, raw)
	return code == "" && next != cur.Values[r.index(f)]
}

func withValue(in map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(in)+1)
	for k, x := range in {
		out[k] = x
	}
	out[key] = v
	return out
}
