package derive

import (
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// Required links a creating role cannot make. A role may create records of r, but a required
// relation of r points at records that role cannot view (a member's booking of a desk only
// admins see): the server refuses the link like a missing record (400 not_found), so that role
// makes no record of r. Another role that may create r, and can link, makes the records; when
// none can, r cannot be made (links.go) and its create file is the refusal alone.

// hiddenVariant is the variant of the targets made for a link a role cannot make.
const hiddenVariant = 9

// blockedLink is the first required relation of r that role's bodies send and role cannot
// link (nil when none): its targets are hidden from role (hiddenFrom), or role sees only its
// own and cannot make those (a required relation of theirs is blocked in turn).
func (g *gen) blockedLink(r *spec.Resource, role string) *spec.Field {
	return g.blockedLinkSeen(r, role, map[string]bool{})
}

func (g *gen) blockedLinkSeen(r *spec.Resource, role string, seen map[string]bool) *spec.Field {
	seen[r.Name] = true
	rs := &recordSet{g: g, r: r}
	for _, fld := range r.Fields {
		if fld.Relation == nil || !fld.Required || !writable(r, fld) || fld.Relation.To == r.Name || rs.keepsCreator(fld, role) {
			continue // not sent by role, or left to its default, the creator
		}
		if g.hiddenFrom(fld, role) {
			return fld
		}
		to := g.s.Resource(fld.Relation.To)
		if !fld.AllowHidden && role != "" && g.viewsOwnOnly(to, role) && !seen[to.Name] &&
			g.blockedLinkSeen(to, role, seen) != nil {
			return fld // role would make its own target, and cannot
		}
	}
	return nil
}

// mayMake reports whether role may create records of r, link every required relation its
// bodies send and, when it may create only the records its rule selects, make one the rule
// selects (makesOwn).
func (g *gen) mayMake(r *spec.Resource, role string) bool {
	return g.access(r, spec.ActionCreate).grants[role] != denied && g.blockedLink(r, role) == nil && g.makesOwn(r, role)
}

// makesOwn reports whether role, when its create rule selects records (rowOnly), can make a
// record the rule selects: the rule holds for a record whose paths read as role's own record
// holds them (ownPath: through a relation the rule reaches the owner through, a target role
// made itself when it may create one, else another account's). Agents who may add vehicles
// only to a branch they manage (record.branch.manager == auth.id), where only admins make
// branches (and name their manager, another account), can make no vehicle: every one they
// sent would be refused (403), so they make neither vehicles nor, through them, own records
// reached through a vehicle (a rental of a vehicle of their branch).
func (g *gen) makesOwn(r *spec.Resource, role string) bool {
	if g.rules == nil || role == "" || g.access(r, spec.ActionCreate).grants[role] != rowOnly {
		return true
	}
	rule := g.rules.Rule(r.Name, spec.ActionCreate)
	if rule == nil {
		return true
	}
	if rule.ReadsOthers() {
		// exists(): whether role's record is let in hangs on records the suite does not make
		// for role (a membership); it makes one only where another part of the rule admits it.
		own, err := holdsAs(rule, role, func(path string) any { return g.ownPath(r, path, role) })
		return err == nil && own
	}
	if all, err := holdsAs(rule, role, allCreators); err != nil || !all {
		return true // undecided: as before
	}
	own, err := holdsAs(rule, role, func(path string) any { return g.ownPath(r, path, role) })
	return err != nil || own
}

// creator is who makes records of r under its create rule: the rule's actor (a role allowed on
// every record, or anyone when it is public), else the first role allowed to create records of
// its own only (create: "auth.role == 'member' && record.author == auth.id"), which makes each
// as its own — its account the default of relations to the account, targets its rule reaches
// through made by it too. A rule that asks for other records (exists()) lets a role make its
// own only where another part of it admits them (makesOwn: record.pet.owner == auth.id ||
// exists('memberships', …)): whom exists() admits hangs on records the suite does not make.
// ok is false when nobody may.
func (g *gen) creator(r *spec.Resource) (string, bool) {
	a := g.access(r, spec.ActionCreate)
	if role, ok := a.actor(); ok {
		return role, true
	}
	for _, role := range a.with(rowOnly) {
		if !a.others || g.makesOwn(r, role) {
			return role, true
		}
	}
	return "", false
}

// makerOf is creator's choice among the roles that can link every required relation of r:
// the first allowed to create every record, else anyone when the rule is public, else the
// first allowed to create its own. ok is false when nobody can.
func (g *gen) makerOf(r *spec.Resource) (string, bool) {
	a := g.access(r, spec.ActionCreate)
	for _, grant := range []grant{allowed, rowOnly} {
		if grant == rowOnly && a.public {
			return "", true
		}
		for _, role := range a.roles {
			if a.grants[role] == grant && g.blockedLink(r, role) == nil && (grant == allowed || !a.others || g.makesOwn(r, role)) {
				return role, true
			}
		}
	}
	return "", false
}

// noMaker is why no record of r can be made: the links that keep every creating role from
// making one (unlinkable), else what (no role may create one at all).
func (g *gen) noMaker(r *spec.Resource, what string) string {
	if _, ok := g.creator(r); ok {
		return g.unlinkable(r)
	}
	return noneMay(r, spec.ActionCreate, what)
}

// unlinkable names, for each required relation that keeps a role allowed to create r from
// making one, the relation, its target and those roles.
func (g *gen) unlinkable(r *spec.Resource) string {
	a := g.access(r, spec.ActionCreate)
	var order []*spec.Field
	roles := map[*spec.Field][]string{}
	for _, role := range a.roles {
		if a.grants[role] == denied {
			continue
		}
		if fld := g.blockedLink(r, role); fld != nil {
			if roles[fld] == nil {
				order = append(order, fld)
			}
			roles[fld] = append(roles[fld], role)
		}
	}
	var parts []string
	for _, fld := range order {
		verb := "cannot view"
		if g.viewsOwnOnly(g.s.Resource(fld.Relation.To), roles[fld][0]) {
			verb = "cannot view unless its own, and cannot make"
		}
		parts = append(parts, fmt.Sprintf("the required relation %s.%s refers to %s, which %s, allowed to create %s, %s",
			r.Name, fld.Name, fld.Relation.To, strings.Join(roles[fld], " and "), r.Name, verb))
	}
	return strings.Join(parts, "; ")
}

// hiddenLinkCases: each role allowed to create r that cannot view the targets of one of its
// required relations (only admins see desks) sends create_valid's body, as that role sends it,
// linking a target made for the case: 400 not_found naming the relation, as for a missing
// record, and nothing links it. Only the link differs from create_valid's body, so the runner
// holds the 400 to naming it.
func (g *gen) hiddenLinkCases(f *tfile, rs *recordSet, a access) {
	for _, role := range a.roles {
		fld := g.blockedLink(rs.r, role)
		if a.grants[role] == denied || fld == nil || g.access(g.s.Resource(fld.Relation.To), spec.ActionView).grants[role] != denied {
			continue // a role that sees some targets may see this one: which, its rule decides
		}
		b := rs.bodyAs(1, "{unique}1", role)
		ref := "{" + rs.target(fld, hiddenVariant) + ".response.id}"
		e := want(400).code("validation_failed").field(fld.Name, "not_found")
		if fld.IsToMany() {
			b = with(b, fld.Name, []any{ref}, false)
			if mk := marker(rs.r, b, fld.Name); mk != "" && rs.r.Field(mk).Relation == nil {
				e.count(rs.r.Name, mk, get(b, mk), 0)
			}
		} else {
			b = with(b, fld.Name, ref, false)
			e.count(rs.r.Name, fld.Name, ref, 0)
		}
		f.add(&tcase{name: fld.Name + "_hidden_from_" + role, as: other(role, f.as), body: b, expect: e,
			comment: role + " cannot view " + fld.Relation.To + ": linking one is refused like a missing record, and nothing is written"})
	}
}

// refusalFile is the create file of a resource no role allowed to create one can link (f, with
// its setup cases): the refusals hiddenLinkCases derives, or nil when there are none.
func (g *gen) refusalFile(f *tfile, rs *recordSet, a access) *tfile {
	setup := len(f.cases)
	g.hiddenLinkCases(f, rs, a)
	if len(f.cases) == setup {
		return nil
	}
	f.title = "Creating " + rs.r.Name + ": refused, as no role allowed to create one can link its required relations."
	return f
}
