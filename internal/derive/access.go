package derive

import (
	"strings"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
)

// grant is what one role may do with an action.
type grant int

const (
	denied  grant = iota // 403
	rowOnly              // allowed on the records its row rule selects; others are 404
	allowed              // any record
)

// access is an action's rule as seen by each role and by anonymous callers.
type access struct {
	public bool
	roles  []string // the spec's roles, in order
	grants map[string]grant
	// others: the rule asks for other records (exists()); a role it lets through to some
	// records only may make none of its own unless another part of it admits the role's own
	// (hidden.go's makesOwn and creator): the suite makes no membership for its test accounts.
	others bool
}

// probeID stands in for auth.id when deciding whether a rule depends on the record.
const probeID = "00000000-0000-7000-8000-00000000a11d"

func (g *gen) access(r *spec.Resource, action spec.Action) access {
	a := access{roles: g.s.Roles, grants: map[string]grant{}}
	if g.s.Auth == nil || g.rules == nil {
		a.public = true
		return a
	}
	rule := g.rules.Rule(r.Name, action)
	if rule != nil && rule.Public {
		a.public = true
	}
	a.others = rule != nil && rule.ReadsOthers()
	view := g.rules.Rule(r.Name, spec.ActionView)
	for _, role := range g.s.Roles {
		a.grants[role] = grantOf(rule, role)
		if onExisting(action) {
			a.grants[role] = withView(a.grants[role], grantOf(view, role))
		}
	}
	return a
}

// onExisting reports whether action writes a record that exists (update, delete, a record
// action): the API lets such a write reach only the records the view rule selects too, for a
// role that may view any (auth.md).
func onExisting(action spec.Action) bool {
	return action == spec.ActionUpdate || action == spec.ActionDelete || strings.HasPrefix(string(action), expr.ActionPrefix)
}

// withView is a write's grant w on existing records once the view rule's grant v joins it: a
// role that may view nothing is held to w alone; one the view rule lets through to some
// records only reaches only those.
func withView(w, v grant) grant {
	if v == denied || w == denied || v == allowed {
		return w
	}
	return rowOnly
}

// grantOf decides a role's grant from the rule's CEL (Rule.Decide), not from the row condition
// the API translates it to: a derived suite that shared that translation would agree with it.
func grantOf(rule *expr.Rule, role string) grant {
	if rule == nil {
		return denied
	}
	holds, known, err := rule.Decide(&expr.Auth{ID: probeID, Role: role, Roles: []string{role}})
	switch {
	case err != nil || (known && !holds):
		return denied
	case known:
		return allowed
	}
	return rowOnly
}

// open reports whether anyone, signed in or not, may take the action.
func (a access) open() bool { return a.public }

// first is the first role with grant g ("" when none, or when the action is public and the
// spec has no roles).
func (a access) first(g grant) string {
	for _, role := range a.roles {
		if a.grants[role] == g {
			return role
		}
	}
	return ""
}

// with lists the roles with grant g.
func (a access) with(g grant) []string {
	var out []string
	for _, role := range a.roles {
		if a.grants[role] == g && !a.public {
			out = append(out, role)
		}
	}
	return out
}

// actor is who performs the happy path: the first role allowed on every record, or anyone
// when the action is public. ok is false when nobody may.
func (a access) actor() (string, bool) {
	if role := a.first(allowed); role != "" {
		return role, true
	}
	return "", a.public
}

// probeKey stands in for auth.key when deciding what an API key may do.
const probeKey = "00000000-0000-7000-8000-0000000000ee"

// keyRefused reports whether the rule refuses an API key acting with role on every record: a
// key is no account, so auth.id is missing, and a comparison with it is false (auth.md).
func (g *gen) keyRefused(r *spec.Resource, action spec.Action, role string) bool {
	if g.rules == nil {
		return false
	}
	rule := g.rules.Rule(r.Name, action)
	if rule == nil {
		return true
	}
	key := &expr.Auth{Role: role, Roles: []string{role}, Key: probeKey}
	holds, known, err := rule.Decide(key)
	if err == nil && !known && rule.ReadsOthers() {
		// exists() (of a membership tied to auth.id) is all that could admit it: the suite
		// makes no record for a key, which has no account, to be found by
		holds, err = rule.HoldsAmong(key, allCreators, noOthers)
		return err == nil && !holds
	}
	return err == nil && known && !holds
}

// noOthers finds no record of any resource: exists() is false.
func noOthers(string) ([]func(string) any, error) { return nil, nil }
