package service

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Password length bounds, in characters (min) and bytes (max).
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// takePassword removes the write-only password input of the account resource from in,
// validates it and returns its hash ("" when none was given).
func (s *Service) takePassword(ctx context.Context, r *resource, in map[string]any) (map[string]any, string, error) {
	raw, given := in[spec.FieldPassword]
	if r.Name != s.account || !given {
		return in, "", nil
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		if k != spec.FieldPassword {
			out[k] = v
		}
	}
	pw, _ := raw.(string)
	var errs fieldErrors
	if code, msg := PasswordProblem(raw); code != "" {
		errs.add(spec.FieldPassword, code, "%s", msg)
	}
	if s.passwords == nil {
		errs.add(spec.FieldPassword, "not_allowed", "passwords cannot be set here")
	}
	if err := errs.err(CodeValidation, "the request has invalid fields"); err != nil {
		return nil, "", err
	}
	hash, err := s.passwords.Hash(ctx, pw)
	if err != nil {
		return nil, "", AsError(err)
	}
	return out, hash, nil
}

// PasswordProblem is what is wrong with a password given as raw (its code and message), or ""
// when nothing is: a flow that spends a one-time code checks it first, so that a password the
// write would refuse does not use the code up.
func PasswordProblem(raw any) (code, message string) {
	pw, ok := raw.(string)
	switch {
	case !ok:
		return "type", "must be a string"
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return "min_length", fmt.Sprintf("must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return "max_length", fmt.Sprintf("must be at most %d bytes", MaxPasswordLen)
	}
	return "", ""
}

// setPasswordHash stores a new hash on an account record's values.
func (r *resource) setPasswordHash(values []any, hash string) {
	if hash == "" {
		return
	}
	if f := r.Field(spec.FieldPasswordHash); f != nil {
		values[r.index(f)] = hash
	}
}
