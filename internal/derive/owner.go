package derive

import (
	"cmp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Records a role makes as its own: by which account, with which targets.

// accountOf is the account that makes role's records here: rs.account when it is one of role.
func (rs *recordSet) accountOf(role string) string {
	if r, _, _ := strings.Cut(rs.account, ":"); rs.account != "" && r == role {
		return rs.account
	}
	return role
}

// ownMaker is who makes a target of fld for a record role makes: role, when role may make
// one and must (the rule reaches the creator through fld, or role sees only its own targets),
// else "" (the first role that may make every one).
func (rs *recordSet) ownMaker(fld *spec.Field, role string) string {
	to := rs.g.s.Resource(fld.Relation.To)
	if role == "" || !rs.g.mayMake(to, role) {
		return ""
	}
	if ruleGoesThrough(rs.r, fld) || (!fld.AllowHidden && rs.g.viewsOwnOnly(to, role)) {
		return role
	}
	return ""
}

// seesOwnOnly reports whether role, making records of r, views only its own records of d that
// a relation of r points at (bookings by member): a target another account made is hidden.
func (g *gen) seesOwnOnly(r, d *spec.Resource, role string) bool {
	if role == "" || !g.viewsOwnOnly(d, role) {
		return false
	}
	for _, fld := range r.Fields {
		if fld.Relation != nil && fld.Relation.To == d.Name && !fld.IsInverse() && !fld.AllowHidden && writable(r, fld) {
			return true
		}
	}
	return false
}

// makeRecord creates the record an item file works on (its name: record), as maker. A maker
// that may create only its own records makes it with an account of its own (role:maker): the
// role's test account, that the file's other-account cases act as, must not own it.
func (rs *recordSet) makeRecord(k int, maker string) yaml.MapSlice {
	if rs.g.s.Auth == nil || rs.g.access(rs.r, spec.ActionCreate).grants[maker] != rowOnly {
		return rs.create("record", k, maker)
	}
	mk := *rs
	mk.account = maker + ":maker"
	return mk.createBy("record", k, maker, mk.account)
}

// ownVariant is the first variant of the records roles make as their own.
const ownVariant = 20

// ownRecord adds the cases that give an account of role a record of its own and returns its
// path, the account (as: role, or ownerAccount's) and the body it was made with: for the
// account resource its own account (from auth/me, no body), otherwise one it creates. It
// returns "" when the role may not create one.
func (g *gen) ownRecord(f *tfile, rs *recordSet, role string) (path, account string, made yaml.MapSlice) {
	if g.s.Auth != nil && rs.r.Name == g.s.Auth.Account {
		name := "me_as_" + role
		f.add(&tcase{name: name, as: other(role, f.as), method: "GET", path: g.base + "/auth/me",
			comment: role + "'s own account record", expect: want(200).key("id")})
		return g.collection(rs.r) + "/{" + name + ".response.id}", role, nil
	}
	if !g.mayMake(rs.r, role) {
		return "", "", nil // it may not create one, or not link one (hidden.go)
	}
	name, account := "owned_by_"+role, g.ownerAccount(f, rs.r, role)
	own := *rs
	own.keepCreator, own.account = true, account // the creator's account is what makes the record its own
	// Its own variant, one per role, past every other a file's creates use (1 to listRecords,
	// 6 to 8 in item and action files), so no unique value is sent twice.
	made = own.createBy(name, ownVariant+max(0, slices.Index(g.s.Roles, role)), role, account)
	return g.collection(rs.r) + "/{" + name + ".response.id}", account, made
}

// ownerAccount is the account that makes role's own record of r in file f: role's test
// account, unless r, or a record it refers to that role makes for it, is one an account holds
// one of — a unique relation defaulting to its creator (a member's one profile, the owner
// record a pet's owner makes for it). Such an account holds one record, and every file makes
// one, so each file's is made by an account of its own (as: member:profiles_view).
func (g *gen) ownerAccount(f *tfile, r *spec.Resource, role string) string {
	if g.holdsOne(r, map[string]bool{}) {
		return role + ":" + strings.ReplaceAll(strings.TrimSuffix(f.name, ".test.yaml"), ".", "_")
	}
	return role
}

// holdsOne reports whether r, or a resource its relations lead to, has a unique relation
// defaulting to the creator.
func (g *gen) holdsOne(r *spec.Resource, seen map[string]bool) bool {
	if r == nil || seen[r.Name] {
		return false
	}
	seen[r.Name] = true
	for _, fld := range r.Fields {
		if fld.Relation == nil || fld.IsInverse() {
			continue
		}
		if fld.Default == "auth.id" && fld.Unique {
			return true
		}
		if g.holdsOne(g.s.Resource(fld.Relation.To), seen) {
			return true
		}
	}
	return false
}

// ownTarget reports whether a record role makes gets a target of its own for fld: a unique
// relation defaulting to the creator, that role may set — the default would make every record
// of role's account clash (an admin's second profile). A record made as role's own keeps the
// default. (Under a unique index the other fields keep the records apart: distinct.go.)
func (rs *recordSet) ownTarget(fld *spec.Field, role string) bool {
	return !rs.keepCreator && fld.Relation != nil && fld.Default == "auth.id" && fld.Unique &&
		!fld.Readonly && !fld.Hidden && (len(fld.Write) == 0 || slices.Contains(fld.Write, role)) &&
		!rs.keepsCreator(fld, role)
}

// keepsCreator reports whether bodies role sends leave fld, a relation defaulting to its
// creator, to that default: role may create only its own records (create: "auth.role ==
// 'member' && record.author == auth.id"), which the default makes them; pointed at another
// account (one an admin made) the record would be refused, as not found or by the rule.
func (rs *recordSet) keepsCreator(fld *spec.Field, role string) bool {
	return fld.Relation != nil && fld.Default == "auth.id" && role != "" && rs.g.s.Auth != nil &&
		rs.g.access(rs.r, spec.ActionCreate).grants[role] == rowOnly
}

// otherID stands in for another account's id when deciding what a create rule makes of a
// record that is not its creator's own.
const otherID = "00000000-0000-7000-8000-0000000000b0"

// othersRecordCases: a role that may create only its own records (a host's lockers, on its own
// desks) is refused one that is another account's, with a 403 and nothing written. For each
// relation the role may set, whose targets it may view, and that the create rule reads the
// owner through (record.desk.host == auth.id) or compares with auth.id (record.author ==
// auth.id), the role sends a body of its own record linked to what another account of the role
// made (as: host:other_desk), or to that account itself. That the rule refuses it is decided
// from the rule's CEL (Rule.Holds): it holds when every path of the record is the creator's
// and fails when those through the relation are another account's.
func (g *gen) othersRecordCases(f *tfile, rs *recordSet, a access) {
	if g.s.Auth == nil || g.rules == nil {
		return
	}
	rule := g.rules.Rule(rs.r.Name, spec.ActionCreate)
	for i, role := range a.with(rowOnly) {
		for _, fld := range rs.r.Fields {
			if !g.mayMake(rs.r, role) || !g.linksOthers(rs.r, fld, role) || !refusesOthers(rule, fld, role) {
				continue
			}
			k := ownVariant + len(g.s.Roles) + i // past the own records' variants
			account := role + ":other_" + fld.Name
			var ref string
			if fld.Relation.To == g.s.Auth.Account {
				name := "me_as_other_" + role + "_" + fld.Name
				f.add(&tcase{name: name, as: account, method: "GET", path: g.base + "/auth/me",
					comment: "another " + role + "'s account", expect: want(200).key("id")})
				ref = "{" + name + ".response.id}"
			} else {
				other := *rs
				other.account = account
				ref = "{" + other.targetAs(fld, k, role) + ".response.id}"
			}
			b := with(rs.freshAs(k, role), fld.Name, ref, false)
			f.add(&tcase{name: fld.Name + "_of_another_" + role, as: other(role, f.as), body: b,
				comment: role + " may create only its own " + rs.r.Name + ": " + fld.Name + " of another " + role + " is refused",
				expect:  want(403).code("forbidden").count(rs.r.Name, fld.Name, ref, 0)})
		}
	}
}

// linksOthers reports whether role may send fld linked to a record another account of role
// made (or to that account): a to-one relation role may set, to targets role views whoever
// made them (or allow_hidden), that role may make itself when they are not accounts.
func (g *gen) linksOthers(r *spec.Resource, fld *spec.Field, role string) bool {
	if fld.Relation == nil || fld.Relation.Kind != spec.RelToOne || fld.IsInverse() || fld.Relation.To == r.Name ||
		fld.Readonly || fld.Hidden || g.leftOut(fld) || (len(fld.Write) > 0 && !slices.Contains(fld.Write, role)) {
		return false
	}
	to := g.s.Resource(fld.Relation.To)
	if !fld.AllowHidden && g.access(to, spec.ActionView).grants[role] != allowed {
		return false // another account's target is refused as not found before the rule is read
	}
	return to.Name == g.s.Auth.Account || g.mayMake(to, role)
}

// refusesOthers reports whether the create rule, for role, holds for a record whose every
// path is the creator's (auth.id) and fails when the paths through fld are another account's.
func refusesOthers(rule *expr.Rule, fld *spec.Field, role string) bool {
	if rule == nil {
		return false
	}
	if own, err := holdsAs(rule, role, allCreators); err != nil || !own {
		return false
	}
	others, err := holdsAs(rule, role, func(path string) any {
		if path == fld.Name || strings.HasPrefix(path, fld.Name+".") {
			return otherID
		}
		return probeID
	})
	return err == nil && !others
}

// oneEach is r's relation that lets each account hold one record of r only: unique, to the
// account resource, defaulting to the creator, and set to another account by no role that
// may create r (readonly, or written only by roles that make no such record). nil when none.
func (g *gen) oneEach(r *spec.Resource) *spec.Field {
	if g.s.Auth == nil {
		return nil
	}
	a := g.access(r, spec.ActionCreate)
	for _, fld := range r.Fields {
		if fld.Relation == nil || fld.Relation.To != g.s.Auth.Account || fld.Default != "auth.id" || !fld.Unique || fld.IsToMany() {
			continue
		}
		setter := false
		for _, role := range g.s.Roles {
			if a.grants[role] != denied && !fld.Readonly && !fld.Hidden && (len(fld.Write) == 0 || slices.Contains(fld.Write, role)) {
				setter = true
			}
		}
		if !setter {
			return fld
		}
	}
	return nil
}

// ownAccounts: each record of a resource whose accounts hold one each (oneEach: a member's
// one profile) that f makes — a POST to its collection expected to succeed — by an account
// that may hold one already (one other files use too: a role's test account, role:maker; or
// one that made one earlier in f) is made by an account of its own instead (as:
// member:profiles_list_record_2): made by the same account, the second would clash. An
// account of f's own (ownerAccount's member:profiles_view) keeps its first record.
func (g *gen) ownAccounts(f *tfile) {
	if f == nil || g.s.Auth == nil {
		return
	}
	one := map[string]bool{}
	for _, r := range g.s.Resources {
		if g.oneEach(r) != nil {
			one["POST "+g.collection(r)] = true
		}
	}
	if len(one) == 0 {
		return
	}
	made := map[string]bool{}
	fm, fp, _ := strings.Cut(f.endpoint, " ")
	for _, c := range f.cases {
		method, path := cmp.Or(c.method, fm), cmp.Or(c.path, fp)
		if !one[method+" "+path] || c.expect == nil || c.expect.status != 201 || byKey(c) {
			continue // another endpoint, a create refused (nothing written), or by an API key (no account)
		}
		account := cmp.Or(c.as, f.as)
		role, name, _ := strings.Cut(account, ":")
		if role == "" {
			continue
		}
		if stem := fileStem(f); (name != stem && !strings.HasPrefix(name, stem+"_")) || made[account] {
			account = accountFor(f, role, c.name)
			c.as = account
		}
		made[account] = true
	}
}

// byKey reports whether c authenticates with a header of its own (an API key: no account).
func byKey(c *tcase) bool {
	for _, h := range c.headers {
		if h.Key == "Authorization" {
			return true
		}
	}
	return false
}

// accountFor is an account of role for case name of f alone (member:profiles_list_record_2).
func accountFor(f *tfile, role, name string) string {
	return role + ":" + fileStem(f) + "_" + name
}

// fileStem names f in account names: profiles_view for profiles.view.test.yaml.
func fileStem(f *tfile) string {
	return strings.ReplaceAll(strings.TrimSuffix(f.name, ".test.yaml"), ".", "_")
}

// selectsOwn reports whether action's rule, for role, selects the record role makes as its own
// (ownRecord): a record whose relations defaulting to the creator are the creator's, and whose
// relations the rule reaches the owner through lead to targets role made when role may make
// them. Other paths are another account's (a section's teacher). A role whose rule reaches its
// records only through what another role makes (update: "record.section.teacher == auth.id",
// while a student makes enrollments in sections an admin made) owns no record it makes: 404,
// not 200. As refusesOthers, it is decided from the rule's CEL (Rule.Holds), and only when
// the rule holds for a record whose every path is the creator's; otherwise the record counts
// as selected. A rule that asks for other records (exists()) selects it only when another part
// of it does: the suite makes no membership for role's account (update: "auth.role == 'admin'
// || exists('memberships', ...)" answers a member 404 on its own note).
//
// A write on an existing record reaches it only where the view rule selects it too (access.go's
// withView), for a role that may view any: both rules must select it.
func (rs *recordSet) selectsOwn(action spec.Action, role string) bool {
	if !rs.ruleSelectsOwn(action, role) {
		return false
	}
	return !rs.viewJoins(action, role) || rs.ruleSelectsOwn(spec.ActionView, role)
}

// viewJoins reports whether the view rule joins action's for role: a write on an existing
// record, by a role the view rule lets see some records.
func (rs *recordSet) viewJoins(action spec.Action, role string) bool {
	return rs.g.rules != nil && onExisting(action) && grantOf(rs.g.rules.Rule(rs.r.Name, spec.ActionView), role) != denied
}

// ruleSelectsOwn is selectsOwn of action's rule alone.
func (rs *recordSet) ruleSelectsOwn(action spec.Action, role string) bool {
	if rs.g.rules == nil {
		return true
	}
	rule := rs.g.rules.Rule(rs.r.Name, action)
	if rule == nil {
		return true
	}
	own, err := holdsAs(rule, role, func(path string) any { return rs.g.ownPath(rs.r, path, role) })
	if rule.ReadsOthers() {
		return err == nil && own // exists() is unknown here: only another part of the rule can admit it
	}
	if all, err := holdsAs(rule, role, allCreators); err != nil || !all {
		return true
	}
	return err != nil || own
}

// othersOnly is the gap of the own-record cases of role under action's rule, when the rule
// reaches role's own record only through other records (exists(): a membership the suite
// does not make for its test account), else "".
func (rs *recordSet) othersOnly(action spec.Action, role string) string {
	if rs.g.rules == nil || (!rs.isAccount() && !rs.g.mayMake(rs.r, role)) {
		return "" // it makes no record of its own anyway (an account's own record is itself)
	}
	if rs.selectsOwn(action, role) {
		return ""
	}
	if rule := rs.g.rules.Rule(rs.r.Name, action); rule != nil && rule.ReadsOthers() && !rs.ruleSelectsOwn(action, role) {
		return "no case on " + role + "'s own record: the rule reaches it only through other records (exists()), which the suite does not make"
	}
	if view := rs.g.rules.Rule(rs.r.Name, spec.ActionView); rs.viewJoins(action, role) && view.ReadsOthers() {
		return "no case on " + role + "'s own record: the view rule, which a write's reach joins, reaches it only through other records (exists()), which the suite does not make"
	}
	return ""
}

// isAccount reports whether the records are the spec's accounts: role's own record is the
// account itself, whoever may create others.
func (rs *recordSet) isAccount() bool {
	return rs.g.s.Auth != nil && rs.r.Name == rs.g.s.Auth.Account
}

// holdsAs evaluates rule for an account of role (probeID) on a record whose paths read as
// value gives them (expr.Rule.Holds).
func holdsAs(rule *expr.Rule, role string, value func(path string) any) (bool, error) {
	return rule.Holds(&expr.Auth{ID: probeID, Role: role, Roles: []string{role}}, value)
}

// allCreators reads every path of a record as the creator's account.
func allCreators(string) any { return probeID }

// setsAnother reports whether the bodies role sends set fld, a relation defaulting to its
// creator, to another account rather than leave it to the default (freshBody): role may write
// it, may create any record (not only its own, keepsCreator), and the field is under a unique
// constraint or read by a rule about stored state (a rental's customer, counted by a limit
// of open rentals, is a fresh account in an agent's rentals) — so the record is not role's by
// that relation.
func (g *gen) setsAnother(r *spec.Resource, fld *spec.Field, role string) bool {
	rs := &recordSet{g: g, r: r}
	if rs.keepsCreator(fld, role) || fld.Readonly || fld.Hidden || (len(fld.Write) > 0 && !slices.Contains(fld.Write, role)) {
		return false
	}
	return uniqueOn(r, fld.Name) || statefulOn(r, fld.Name)
}

// ownPath is the value of path on a record of r role made as its own: the creator (probeID)
// on a relation defaulting to it, followed into a target role made itself (role may create it
// and the rule reaches the owner through the relation), another account (otherID) through any
// other relation, and probeID for plain fields, which the decision leaves alone.
func (g *gen) ownPath(r *spec.Resource, path, role string) any {
	name, rest, _ := strings.Cut(path, ".")
	fld := r.Field(name)
	if fld == nil || fld.Relation == nil || fld.IsInverse() {
		return probeID
	}
	if rest == "" {
		if fld.Default == "auth.id" && !g.setsAnother(r, fld, role) {
			return probeID
		}
		return otherID
	}
	to := g.s.Resource(fld.Relation.To)
	if to == nil || !ruleGoesThrough(r, fld) || g.access(to, spec.ActionCreate).grants[role] == denied {
		return otherID
	}
	return g.ownPath(to, rest, role)
}
