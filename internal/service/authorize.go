package service

import (
	"context"
	"strings"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// authorize decides an action for the request's principal. It returns the row condition a
// record must meet (nil: any record), 401 without credentials, 403 when the action is not
// allowed at all. Specs without an auth block have no accounts: every action is open.
func (s *Service) authorize(ctx context.Context, r *resource, action spec.Action) (query.Cond, error) {
	if s.rules == nil || isSystem(ctx) {
		return nil, nil
	}
	p := PrincipalFrom(ctx)
	rule := s.rules.Rule(r.Name, action)
	name := actionName(action) // an action's own name, without its prefix
	switch {
	case rule != nil && rule.Public:
		return nil, nil
	case p == nil:
		return nil, Errorf(CodeUnauthorized, "sign in to %s %s", name, r.Name)
	case p.KeyID != "" && !ScopeAllows(p.Scopes, r.Name, string(action)):
		return nil, Errorf(CodeForbidden, "the API key's scopes do not cover %s on %s", name, r.Name)
	case rule == nil:
		return nil, Errorf(CodeForbidden, "%s on %s is not allowed", name, r.Name)
	case !rule.IsExpr():
		if p.HasRole(rule.Roles...) {
			return nil, nil
		}
		return nil, Errorf(CodeForbidden, "%s on %s needs one of the roles %s", name, r.Name, RoleList(rule.Roles))
	}
	c, err := rule.Condition(p.rules())
	if err != nil {
		return nil, AsError(err)
	}
	c = expr.Simplify(c)
	switch {
	case expr.IsTrue(c):
		return nil, nil
	case expr.IsFalse(c):
		return nil, Errorf(CodeForbidden, "%s on %s is not allowed", name, r.Name)
	}
	return c, nil
}

// authorizeOn decides a write on an existing record (update, delete, an action, a file): the
// write rule's row condition joined with the view rule's, so that a write reaches only records
// the caller may also view. A record the view rule hides is 404 however wide the write rule —
// a moderator whose update rule took every message, but who viewed only his channels', read any
// message whole in the answer to an empty PATCH (a new user's trial). A principal that may not
// view at all (a write-only API key) is held to the write rule alone.
func (s *Service) authorizeOn(ctx context.Context, r *resource, action spec.Action) (query.Cond, error) {
	cond, err := s.authorize(ctx, r, action)
	if err != nil || s.rules == nil || isSystem(ctx) {
		return cond, err
	}
	view, err := s.authorize(ctx, r, spec.ActionView)
	if err != nil || view == nil {
		return cond, nil
	}
	return query.AndOf(cond, view), nil
}

// allows checks the write's row condition against the record about to be written (always
// true for inner writes). Parts that follow a relation are read in the write's transaction:
// is the related record there and does it meet them.
func (w *write) allows(ctx context.Context, rec *store.Record) (bool, error) {
	if w.inner || w.cond == nil {
		return true, nil
	}
	c, err := w.r.resolveStored(ctx, w.tx, w.cond, rec)
	if err != nil {
		return false, err
	}
	return w.r.allowsValues(c, rec.Values, rec.ID), nil
}

// resolveStored decides the parts of c that rec's values alone cannot, by reading exec: a
// relation followed to another record (Rel), another record tied to this one (Exists), and
// links kept on the other side (Has on an inverse field; a record not stored yet has none).
// In a write's transaction on PostgreSQL the records that let it through stay locked FOR
// SHARE to its end (store.Holding).
func (r *resource) resolveStored(ctx context.Context, exec *store.Exec, c query.Cond, rec *store.Record) (query.Cond, error) {
	if !query.ReadsStored(c, r.inverseLinks) {
		return c, nil
	}
	return query.ResolveStored(c, func(x query.Cond) (bool, error) {
		switch x := x.(type) {
		case query.Rel:
			id, _ := r.valueOf(rec, x.Field).(string)
			if id == "" {
				return false, nil
			}
			return exec.Holding(ctx, r.Field(x.Field).Relation.To, query.AndOf(query.Compare{Field: "id", Op: query.Eq, Value: id}, x.Cond))
		case query.Exists:
			v := r.valueOf(rec, x.Field)
			if v == nil {
				return false, nil
			}
			return exec.Holding(ctx, x.Resource, query.AndOf(query.Compare{Field: x.Key, Op: query.Eq, Value: v}, x.Cond))
		case query.Has:
			found, err := exec.ExistingIDs(ctx, r.Name, []string{rec.ID}, x)
			return found[rec.ID], err
		}
		return false, nil
	}, r.inverseLinks)
}

// keyCovers refuses a write that an API key's scopes do not cover where no access rule is
// asked: a nested child is created under its parent's rule, yet a key scoped to
// projects:create creates no tasks (a hostile review found it did).
func (s *Service) keyCovers(ctx context.Context, r *resource, action spec.Action) error {
	p := PrincipalFrom(ctx)
	if s.rules == nil || isSystem(ctx) || p == nil || p.KeyID == "" || ScopeAllows(p.Scopes, r.Name, string(action)) {
		return nil
	}
	return Errorf(CodeForbidden, "the API key's scopes do not cover %s on %s (a nested child)", action, r.Name)
}

// stillAllowed checks the stored record a write read under its rule once more, on PostgreSQL,
// where the rule reads other records: the read's subquery locked none of them, so this check
// locks those that let it through (resolveStored). A concurrent change that took them away
// has committed first (the write then sees the record hidden: store.ErrNotFound) or waits for
// this one. SQLite runs one write at a time.
func (w *write) stillAllowed(ctx context.Context, cur *store.Record) error {
	if w.inner || w.cond == nil || !w.tx.LocksRows() || !query.ReadsStored(w.cond, w.r.inverseLinks) {
		return nil
	}
	ok, err := w.allows(ctx, cur)
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	return err
}

// inverseLinks reports whether h tests links kept on the other side (an N:M inverse).
func (r *resource) inverseLinks(h query.Has) bool {
	f := r.Field(h.Field)
	return f != nil && f.IsInverse()
}

// allowsValues checks a row condition against a record about to be written.
func (r *resource) allowsValues(c query.Cond, values []any, id string) bool {
	if c == nil {
		return true
	}
	return query.Eval(c, func(field string) any {
		if field == "id" {
			return id
		}
		if f := r.Field(field); f != nil {
			return values[r.index(f)]
		}
		return nil
	})
}

// checkWriteRoles reports fields in the input that the principal's role may not set.
func (s *Service) checkWriteRoles(ctx context.Context, r *resource, in map[string]any, errs *fieldErrors) {
	if isSystem(ctx) || s.rules == nil {
		return
	}
	p := PrincipalFrom(ctx)
	for _, f := range r.Fields {
		if _, given := in[f.Name]; given && len(f.Write) > 0 && !p.HasRole(f.Write...) {
			errs.add(f.Name, "not_allowed", "only %s may set this field", RoleList(f.Write))
		}
	}
}

// Access is the row condition an action needs for ctx's principal (nil: any record), or the
// 401 or 403 error the API would answer. Tests use it to evaluate access rules in memory.
func (s *Service) Access(ctx context.Context, resName string, action spec.Action) (query.Cond, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	return s.authorize(ctx, r, action)
}

// RoleList writes roles for a message: "admin, staff".
func RoleList(roles []string) string { return strings.Join(roles, ", ") }
