package derive

import (
	"fmt"
	"slices"

	celast "cel.dev/cel-go/common/ast"
	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Some resources' records cannot be made for a body to refer to: no role may create one, or
// its unique indexes would make the files' records clash (crowded), or a required relation
// of its own refers to such a resource. A required relation to one keeps a resource from
// being derived, and the reason names the relation; an optional relation to one is left out
// of every body (the record is valid without it), and with it every case that would need a
// record at the other end: its unique cases (a missing link clashes with nothing), its expand
// on one record, its filters (they are made from a body's values).

// findUnmade fills g.unmade: the resources whose records cannot be made, each with why. A
// resource is made unless a reason is found, so resources that require each other in a cycle
// stay as they were (made); a required link to an unmade resource spreads until nothing changes.
func (g *gen) findUnmade() {
	g.unmade = map[string]string{}
	for _, r := range g.s.Resources {
		if g.signedUp(r) {
			continue // its records are test accounts (signup.go)
		}
		if _, ok := g.creator(r); !ok {
			g.unmade[r.Name] = noneMay(r, spec.ActionCreate, "no role may create "+r.Name)
		} else if _, ok := g.makerOf(r); !ok {
			g.unmade[r.Name] = g.unlinkable(r) // hidden.go
		} else if why := crowded(r); why != "" {
			g.unmade[r.Name] = why
		} else if why := needsOthers(r); why != "" {
			g.unmade[r.Name] = why
		} else if why := g.readsAccounts(r); why != "" {
			g.unmade[r.Name] = why // accountreads.go
		}
	}
	for changed := true; changed; {
		changed = false
		for _, r := range g.s.Resources {
			if g.unmade[r.Name] != "" {
				continue
			}
			if why := g.requiredUnmade(r); why != "" {
				g.unmade[r.Name], changed = why, true
			}
		}
	}
}

// needsOthers is why no record of r can be made when a create rule requires another record to
// exist — a conjunct exists('memberships', …): a vet must be a member of the clinic — which
// the suite does not make ("" when none). Sent anyway, every create would be refused by the
// rule, and every case on the record after it would fail.
func needsOthers(r *spec.Resource) string {
	for _, rl := range r.Rules {
		if !spec.Applies(rl.On, spec.OpCreate) {
			continue
		}
		for _, c := range conjuncts(parseAssert(rl.Check.Text)) {
			if c.Kind() != celast.CallKind || c.AsCall().FunctionName() != "exists" || c.AsCall().IsMemberFunction() {
				continue
			}
			res, _ := stringLiteral(c.AsCall().Args()[0])
			return fmt.Sprintf("its rule %s requires a %s record to exist (exists()), which the suite does not make", ruleLabel(rl), res)
		}
	}
	return ""
}

// needsRecord is why no role may take action on records of r when its access rule requires
// another record to exist — a conjunct exists('users', 'id == auth.id && org == record.org'):
// a tenant's member works only in its organization — which the suite does not make ("" when
// the rule has no such conjunct).
func needsRecord(r *spec.Resource, action spec.Action) string {
	rule := r.Access[action]
	if rule == nil || rule.Expr == "" {
		return ""
	}
	for _, c := range conjuncts(parseAssert(rule.Expr)) {
		if c.Kind() != celast.CallKind || c.AsCall().FunctionName() != "exists" || c.AsCall().IsMemberFunction() {
			continue
		}
		res, _ := stringLiteral(c.AsCall().Args()[0])
		return fmt.Sprintf("its %s rule requires a %s record to exist (exists()), which the suite does not make", action, res)
	}
	return ""
}

// noneMay is why no file on action can be derived when no role may take it on every record
// of r: what, and the exists() its rule requires when it does.
func noneMay(r *spec.Resource, action spec.Action, what string) string {
	if why := needsRecord(r, action); why != "" {
		return what + ": " + why
	}
	return what
}

// requiredUnmade is why r cannot be derived for a required relation whose target cannot be
// made ("" when it has none): the first such relation, named with its target's reason.
func (g *gen) requiredUnmade(r *spec.Resource) string {
	for _, f := range r.Fields {
		if f.Relation == nil || !f.Required || !writable(r, f) || f.Relation.To == r.Name {
			continue
		}
		if why := g.unmade[f.Relation.To]; why != "" {
			return fmt.Sprintf("the required relation %s.%s refers to %s, which cannot be made: %s", r.Name, f.Name, f.Relation.To, why)
		}
	}
	return ""
}

// leftOut reports whether bodies leave f out: an optional relation to a resource whose
// records cannot be made, or to an account whose fields a rule reads (accountreads.go).
func (g *gen) leftOut(f *spec.Field) bool {
	return f.Relation != nil && !f.Required && !f.IsInverse() && (g.unmade[f.Relation.To] != "" || g.unsent[f])
}

// leavesOut reports whether one of the named fields of r is left out of bodies.
func (g *gen) leavesOut(r *spec.Resource, names []string) bool {
	for _, name := range names {
		if f := r.Field(name); f != nil && g.leftOut(f) {
			return true
		}
	}
	return false
}

// body is body(r, k, …) without the links bodies leave out, for the file's role.
func (rs *recordSet) body(k int, unique string) yaml.MapSlice { return rs.bodyAs(k, unique, rs.f.as) }

// bodyAs is body(r, k, …) for a record role creates, without the links bodies leave out and
// without the optional links to records role cannot view (a member's booking has no invoice
// when only admins see invoices): such a link is refused like a missing record (400 not_found).
func (rs *recordSet) bodyAs(k int, unique, role string) yaml.MapSlice {
	b := body(rs.r, k, unique, rs.ref)
	for _, f := range rs.r.Fields {
		switch {
		case rs.g.leftOut(f) || (!f.Required && rs.g.hiddenFrom(f, role)):
			b = with(b, f.Name, nil, true)
		case rs.ownTarget(f, role):
			b = with(b, f.Name, "{"+rs.target(f, k)+".response.id}", false)
		case rs.keepsCreator(f, role):
			b = with(b, f.Name, nil, true) // its default, the creator: role makes its own records only
		case mustSend(f, role):
			b = with(b, f.Name, variant(f, k, unique, rs.ref), false) // required, no default: never left out
		}
	}
	return b
}

// mustSend reports whether f, which write roles guard, is in every body role sends: role may
// write it and it is required without a default (an invoice's owner that only admins set), so
// a create that left it out would be refused (400 required).
func mustSend(f *spec.Field, role string) bool {
	return guardedRequired(f) && slices.Contains(f.Write, role) && !f.Readonly && !f.Hidden && !f.IsInverse()
}

// guardedRequired reports whether f is required, defaults to nothing and only its write roles
// may set it: whoever creates its record as one of them must send it.
func guardedRequired(f *spec.Field) bool {
	return f.Required && !f.HasDefault && f.DefaultExpr.Text == "" && len(f.Write) > 0
}

// hiddenFrom reports whether role may not link fld to a record another role made: fld does not
// allow hidden targets and role views none of them, or only its own and may not make its own.
func (g *gen) hiddenFrom(fld *spec.Field, role string) bool {
	if fld.Relation == nil || fld.IsInverse() || fld.AllowHidden || role == "" || g.s.Auth == nil {
		return false
	}
	to := g.s.Resource(fld.Relation.To)
	switch {
	case g.access(to, spec.ActionView).grants[role] == denied:
		return true
	case g.viewsOwnOnly(to, role):
		return g.access(to, spec.ActionCreate).grants[role] == denied
	}
	return false
}
