package derive

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/example"
	"github.com/kiln-dev/kiln/internal/spec"
)

// recordSet creates records in a file: the targets r's bodies refer to first (setup_<name>),
// then r's own (by name), and hands out references to them.
type recordSet struct {
	g      *gen
	f      *tfile
	r      *spec.Resource
	ref    func(string) string
	record yaml.MapSlice // the body of the record an item file works on
	// chain lists the resources whose records wait for this one (a target made for a target):
	// a relation back to one of them keeps the shared setup record, or two resources that
	// point at each other would make targets for each other without end.
	chain []string
	// keepCreator: the record is made as its creator's own (ownRecord), so a relation
	// defaulting to the creator keeps that default (no ownTarget)
	keepCreator bool
	// account makes the records its role makes here, targets too ("": the role's test account)
	account string
	// examples: targets are made with the numbers and dates of their examples (variant 0), as
	// a conflict rule's violated_by values are written against them (9 seats of 8)
	examples bool
	// made holds the targets made for one record and for its targets' targets (freshAs), so
	// that a record and the target it refers to share what both refer to (diamond)
	made map[string]madeTarget
}

// madeTarget is a target a record set made for one record, and the set that made it.
type madeTarget struct {
	name string
	by   *recordSet
}

// newRecordSet adds the setup cases for r's relation targets, in creation order. It returns
// a gap when records of r cannot be told apart under a unique index (crowded), or when a
// required relation of r refers to a resource whose records cannot be made (links.go);
// optional relations to such a resource are left out.
func (g *gen) newRecordSet(f *tfile, r *spec.Resource) (*recordSet, string) {
	if why := crowded(r); why != "" {
		return nil, why
	}
	if why := needsOthers(r); why != "" {
		return nil, why
	}
	if why := g.readsAccounts(r); why != "" {
		return nil, why
	}
	if why := g.requiredUnmade(r); why != "" {
		return nil, why
	}
	rs := &recordSet{g: g, f: f, r: r, ref: func(res string) string { return "{setup_" + res + ".response.id}" }}
	needed, made := map[string]bool{}, map[string]bool{}
	g.dependencies(r, needed)
	if needed[r.Name] && !requiredBack(g.s, r, needed) {
		delete(needed, r.Name) // targets point back at r only optionally: they go without it
	}
	for _, d := range example.CreationOrder(g.s) {
		if !needed[d.Name] {
			continue
		}
		if g.signedUp(d) {
			g.accountCase(f, "setup_"+d.Name) // an account no role may create: a test account (signup.go)
			made[d.Name] = true
			continue
		}
		role, _ := g.makerOf(d) // d can be made: dependencies skips the others
		if (reachedThrough(r, d) || g.seesOwnOnly(r, d, f.as)) && f.as != "" && g.mayMake(d, f.as) {
			role = f.as // the file's role reaches its records through this one, or sees only its own: it makes its own
		}
		dep := &recordSet{g: g, f: f, r: d, ref: rs.ref}
		b := dep.freshAs(0, role) // body(d, 0, …), plus targets of its own where rules need them
		for _, fld := range d.Fields {
			// two resources that point at each other: the first one made leaves its optional
			// relation to the second out (nothing to refer to yet) — unless the body gave it a
			// target of its own (a household's account, unique and defaulting to its creator)
			if fld.Relation != nil && !fld.Required && !made[fld.Relation.To] && fld.Relation.To != d.Name && !dep.ownTarget(fld, role) {
				b = with(b, fld.Name, nil, true)
			}
		}
		made[d.Name] = true
		as := other(role, f.as)
		if role != "" && g.othersTarget(d, needed, r) {
			as = accountFor(f, role, "owner_of_"+d.Name) // a rule refuses a target of the creator's own
		}
		c := f.add(&tcase{name: "setup_" + d.Name, as: as, method: "POST", path: g.base + "/" + d.Name,
			body: b, expect: want(201)})
		c.comment = "a " + d.Name + " record for the bodies below to refer to"
		if why := g.moveSetup(f, d, c.name, needed, r); why != "" {
			return nil, why
		}
	}
	return rs, ""
}

// moveSetup takes the setup record of d (case made) to the states the create rules of r and
// of the needed resources want it in when they refer to it.
func (g *gen) moveSetup(f *tfile, d *spec.Resource, made string, needed map[string]bool, r *spec.Resource) string {
	for _, x := range g.s.Resources {
		if !needed[x.Name] && x != r {
			continue
		}
		for _, fld := range x.Fields {
			if fld.Relation == nil || fld.Relation.To != d.Name || fld.IsInverse() || x == d {
				continue
			}
			if why := g.moveTarget(f, x, fld, made); why != "" {
				return fmt.Sprintf("%s create: %s", x.Name, why)
			}
		}
	}
	return ""
}

// requiredBack reports whether one of the needed resources must refer to r.
func requiredBack(s *spec.Spec, r *spec.Resource, needed map[string]bool) bool {
	for name := range needed {
		for _, fld := range s.Resource(name).Fields {
			if name != r.Name && fld.Relation != nil && fld.Relation.To == r.Name && fld.Required && !fld.IsInverse() {
				return true
			}
		}
	}
	return false
}

// dependencies collects the resources r's writable relations point at, transitively, but for
// the links bodies leave out.
func (g *gen) dependencies(r *spec.Resource, seen map[string]bool) {
	for _, f := range r.Fields {
		if f.Relation == nil || !(writable(r, f) || guardedRequired(f)) || f.Relation.To == r.Name || seen[f.Relation.To] || g.leftOut(f) {
			continue
		}
		seen[f.Relation.To] = true
		if to := g.s.Resource(f.Relation.To); !g.signedUp(to) { // a test account refers to nothing the file makes
			g.dependencies(to, seen)
		}
	}
}

// fresh is a valid body for record k of r that no other record of the file clashes with:
// records after the first get their own targets (setup_<target>_<k> cases, added here) for
// relations under a unique constraint or a rule about stored state.
func (rs *recordSet) fresh(k int) yaml.MapSlice { return rs.freshAs(k, rs.f.as) }

// freshAtExamples is fresh with its targets made at their examples' numbers and dates.
func (rs *recordSet) freshAtExamples(k int) yaml.MapSlice {
	one := *rs
	one.examples = true
	return one.fresh(k)
}

// freshAs is fresh for a record role creates: relations only some roles may set, that a rule
// about stored state counts by (loans per member), get a target of their own too when role
// may set them — on every record, since the default (the creator) is shared by all.
func (rs *recordSet) freshAs(k int, role string) yaml.MapSlice {
	unique := "{unique}" + strconv.Itoa(k)
	if k == 0 {
		unique = "{unique}"
	}
	one := *rs
	one.made = map[string]madeTarget{}
	return one.freshBody(k, role, unique)
}

func (rs *recordSet) freshBody(k int, role, unique string) yaml.MapSlice {
	b := rs.bodyAs(k, unique, role)
	for _, fld := range rs.r.Fields {
		// a field write roles guard, with an example, is sent by a role that may write it:
		// a transition's guard may read it (confirm only when deposit_paid)
		if fld.Relation == nil && len(fld.Write) > 0 && slices.Contains(fld.Write, role) && fld.Example != nil &&
			!fld.Readonly && !fld.Hidden && len(fld.Transitions) == 0 {
			b = with(b, fld.Name, variant(fld, 0, unique, rs.ref), false)
		}
	}
	mk := marker(rs.r, b, "")
	var shared []*spec.Field
	for _, fld := range rs.r.Fields {
		if fld.Relation == nil || fld.IsInverse() || fld.Relation.To == rs.r.Name || rs.g.leftOut(fld) ||
			(!fld.Required && rs.g.hiddenFrom(fld, role)) {
			continue
		}
		if rs.ownTarget(fld, role) || rs.keepsCreator(fld, role) {
			continue // bodyAs gave it a target of its own, or left it to its default
		}
		if slices.Contains(rs.chain, fld.Relation.To) {
			if !fld.Required { // the record waiting for this one refers to it, not back
				b = with(b, fld.Name, nil, true)
			}
			continue
		}
		if fld.IsToMany() {
			if rs.ownedThrough(fld, role) && writable(rs.r, fld) {
				b = with(b, fld.Name, []any{"{" + rs.targetAs(fld, k, role) + ".response.id}"}, false)
			}
			continue
		}
		if rs.ownedThrough(fld, role) && writable(rs.r, fld) {
			b = with(b, fld.Name, "{"+rs.targetAs(fld, k, role)+".response.id}", false)
			continue
		}
		guarded := len(fld.Write) > 0 && slices.Contains(fld.Write, role) && statefulOn(rs.r, fld.Name)
		// the marker relation tells the file's records apart when no text does: each its own
		plain := k >= 2 && writable(rs.r, fld) && (uniqueOn(rs.r, fld.Name) || statefulOn(rs.r, fld.Name) || fld.Name == mk)
		if !guarded && !plain {
			shared = append(shared, fld)
			continue
		}
		b = with(b, fld.Name, "{"+rs.targetAs(fld, k, rs.ownMaker(fld, role))+".response.id}", false)
	}
	// a relation left to the shared setup record refers to the target one of the record's own
	// targets was given (a review's course, and its enrollment's course: a rule may hold them
	// equal), whichever field comes first
	for _, fld := range shared {
		if !writable(rs.r, fld) || fld.IsToMany() {
			continue
		}
		if t, ok := rs.madeFor(fld, role); ok {
			b = with(b, fld.Name, "{"+t+".response.id}", false)
		}
	}
	return b
}

// madeFor is the target of fld's resource that a target of this record was given (diamond), as
// targetAs would find it.
func (rs *recordSet) madeFor(fld *spec.Field, role string) (string, bool) {
	if rs.made == nil {
		return "", false
	}
	maker := rs.ownMaker(fld, role)
	if maker == "" {
		maker, _ = rs.g.makerOf(rs.g.s.Resource(fld.Relation.To))
	}
	t, ok := rs.made[fld.Relation.To+" "+other(rs.accountOf(maker), rs.f.as)]
	if !ok || t.by == rs {
		return "", false
	}
	return t.name, true
}

// reachedThrough reports whether an access rule of r goes through a relation to d
// (record.pet.owner == auth.id, pets).
func reachedThrough(r, d *spec.Resource) bool {
	for _, fld := range r.Fields {
		if fld.Relation != nil && fld.Relation.To == d.Name && ruleGoesThrough(r, fld) {
			return true
		}
	}
	return false
}

func ruleGoesThrough(r *spec.Resource, fld *spec.Field) bool {
	for _, rule := range r.Access {
		if rule != nil && strings.Contains(rule.Expr, "record."+fld.Name+".") {
			return true
		}
	}
	return false
}

// ownedThrough reports whether a record role makes as its own needs a target of fld that role
// made itself, role being allowed to create the target: an access rule of the resource reaches
// the owner through fld (record.pet.owner == auth.id), or role sees only the targets its row
// rule selects (tags by owner) — made by another role, the target would be that role's, and
// role could not refer to it (400 not_found). The file's setup targets are the file's role's
// own: a record its test account makes refers to them, but one made by an account of its own
// (role:maker, makeRecord) gets targets that account made.
func (rs *recordSet) ownedThrough(fld *spec.Field, role string) bool {
	if role == "" || (role == rs.f.as && rs.accountOf(role) == role) {
		return false
	}
	to := rs.g.s.Resource(fld.Relation.To)
	if !rs.g.mayMake(to, role) {
		return false
	}
	return ruleGoesThrough(rs.r, fld) || (!fld.AllowHidden && rs.g.viewsOwnOnly(to, role))
}

// target adds a case creating a record for fld to point at and returns its name.
func (rs *recordSet) target(fld *spec.Field, k int) string { return rs.targetAs(fld, k, "") }

// targetAs is target made by role ("": the first role that may create every such record).
func (rs *recordSet) targetAs(fld *spec.Field, k int, role string) string {
	to := rs.g.s.Resource(fld.Relation.To)
	name := fmt.Sprintf("setup_%s_%d", to.Name, k)
	for _, c := range rs.f.cases {
		if c.name == name {
			name = fmt.Sprintf("setup_%s_%d_%d", to.Name, k, len(rs.f.cases))
			break
		}
	}
	if rs.g.signedUp(to) {
		rs.g.accountCase(rs.f, name) // an account no role may create: a test account (signup.go)
		return name
	}
	if role == "" {
		role, _ = rs.g.makerOf(to)
	}
	as := other(rs.accountOf(role), rs.f.as)
	if role != "" && notTheCreators(rs.r, fld, to) {
		as = accountFor(rs.f, role, "owner_of_"+to.Name) // a rule refuses a target of the creator's own
	}
	if t, ok := rs.made[to.Name+" "+as]; ok && t.by != rs {
		return t.name // a target the record (or its target) refers to: the same one
	}
	dep := &recordSet{g: rs.g, f: rs.f, r: to, ref: rs.ref, chain: append(slices.Clone(rs.chain), rs.r.Name),
		account: rs.account, made: rs.made, examples: rs.examples}
	b := dep.freshBody(k, role, fmt.Sprintf("{unique}%d%d", k, len(rs.f.cases)))
	if rs.examples {
		b = atExampleValues(to, b)
	}
	rs.f.add(&tcase{name: name, as: as, method: "POST", path: rs.g.collection(to), body: b, expect: want(201)})
	rs.g.moveTarget(rs.f, rs.r, fld, name) // a target no move reaches: newRecordSet's gap says so
	if rs.made != nil {
		if _, ok := rs.made[to.Name+" "+as]; !ok {
			rs.made[to.Name+" "+as] = madeTarget{name: name, by: rs}
		}
	}
	return name
}

// statefulOn reports whether a create rule about stored state (conflict: true) reads the
// field: records sharing its value would trip it (a copy lent twice, a sixth loan).
func statefulOn(r *spec.Resource, field string) bool {
	for _, rl := range r.Rules {
		if rl.Conflict && spec.Applies(rl.On, spec.OpCreate) && reads(rl.Check.Text, "record."+field) {
			return true
		}
	}
	return false
}

// reads reports whether expression text names ref as a whole word (record.copy, not
// record.copyright).
func reads(text, ref string) bool { return spec.ReadsWord(text, ref) }

// create adds a case that creates record k of r as role and returns the body it sent.
func (rs *recordSet) create(name string, k int, role string) yaml.MapSlice {
	if role == "" {
		role = rs.f.as
	}
	return rs.createBy(name, k, role, role)
}

// createBy is create by account, an account of role (role:name).
func (rs *recordSet) createBy(name string, k int, role, account string) yaml.MapSlice {
	b := rs.freshAs(k, role)
	rs.f.add(&tcase{name: name, as: other(account, rs.f.as), method: "POST", path: rs.g.collection(rs.r), body: b, expect: want(201)})
	return b
}

// other is role when it differs from the file's role, else "" (inherited).
func other(role, fileRole string) string {
	if role == fileRole {
		return ""
	}
	return role
}

// credentialCases: no credentials, a forged token and an expired one are each a 401.
func (g *gen) credentialCases(f *tfile, a access, b any) {
	if a.open() || g.s.Auth == nil {
		return
	}
	for _, c := range []struct{ name, header, why string }{
		{"no_credentials", "", "without credentials"},
		{"invalid_token", "Bearer {invalid_token}", "with a token that is not one of ours"},
		{"expired_token", "Bearer {expired_token}", "with an expired token"},
	} {
		f.add(&tcase{name: c.name, comment: "refused " + c.why, headers: yaml.MapSlice{{Key: "Authorization", Value: c.header}},
			body: b, expect: want(401).code("unauthorized")})
	}
}

// wrongRoleCases: each role the rule shuts out gets a 403 and nothing changes.
func (g *gen) wrongRoleCases(f *tfile, a access, b any, check func(*expect) *expect) {
	for _, role := range a.with(denied) {
		e := want(403).code("forbidden")
		if check != nil {
			e = check(e)
		}
		f.add(&tcase{name: "forbidden_for_" + role, as: role, comment: role + " may not do this", body: b, expect: e})
	}
}

// readonlyCases: each readonly field (a state only actions move, a value the server keeps)
// sent by a client is a 400 naming it — on its own for a PATCH (partial), else in a valid body.
func readonlyCases(f *tfile, r *spec.Resource, valid yaml.MapSlice, partial bool, check func(*expect) *expect) {
	for _, fld := range r.Fields {
		if !fld.Readonly || fld.Hidden || fld.IsInverse() || fld.Relation != nil {
			continue
		}
		b := with(valid, fld.Name, variant(fld, 1, "{unique}9", nil), false)
		if partial {
			b = yaml.MapSlice{{Key: fld.Name, Value: variant(fld, 1, "{unique}9", nil)}}
		}
		f.add(&tcase{name: fld.Name + "_readonly", comment: fld.Name + " is readonly: clients cannot write it", body: b,
			expect: check(want(400).code("validation_failed").field(fld.Name, "readonly"))})
	}
}

// malformedCases: bodies that are not JSON, carry an unknown field, or are over the limit.
func (g *gen) malformedCases(f *tfile, valid yaml.MapSlice, check func(*expect) *expect) {
	bad := `{"broken": `
	f.add(&tcase{name: "malformed_json", comment: "a body that is not JSON", rawBody: &bad, expect: check(want(400).code("malformed_request"))})
	f.add(&tcase{name: "unknown_field", comment: "fields the spec does not declare are refused, not ignored",
		body: with(valid, "not_a_field", 1, false), expect: check(want(400).code("validation_failed").field("not_a_field", "unknown_field"))})
	f.add(&tcase{name: "id_is_readonly", comment: "the server sets ids", body: with(valid, "id", unknownID, false),
		expect: check(want(400).code("validation_failed").field("id", "readonly"))})
	f.add(&tcase{name: "not_json_content_type", comment: "bodies must be sent as application/json",
		headers: yaml.MapSlice{{Key: "Content-Type", Value: "text/plain"}}, body: valid,
		expect: check(want(415).code("unsupported_media_type"))})
	if limit := g.s.Server.MaxBodyBytes; limit > 0 {
		f.add(&tcase{name: "oversized_body", comment: fmt.Sprintf("one byte over server.max_body_bytes (%d)", limit),
			bodySize: int(limit) + 1, expect: want(413).code("payload_too_large")})
	}
}

// violationCases: one case per constraint of every field the file's role may write (write
// roles that guard a field include the role: an invoice's owner an admin sets), each a 400
// naming the field.
func (g *gen) violationCases(f *tfile, r *spec.Resource, valid yaml.MapSlice, partial bool, check func(*expect) *expect) {
	for _, fld := range r.Fields {
		if !settableBy(fld, f.as) {
			continue
		}
		for _, v := range violations(fld, partial) {
			b := with(valid, v.field, v.value, v.omit)
			if partial {
				b = yaml.MapSlice{{Key: v.field, Value: v.value}}
			}
			e := want(400).code("validation_failed").field(v.field, v.code)
			f.add(&tcase{name: v.name, body: b, expect: check(e)})
		}
	}
}

// writeRoleCases: a role that may write the record but not a guarded field is refused it.
func (g *gen) writeRoleCases(f *tfile, r *spec.Resource, a access, valid yaml.MapSlice, check func(*expect) *expect) {
	for _, role := range a.roles {
		if a.grants[role] != allowed && role != f.as { // the file's role may write its own records
			continue
		}
		for _, fld := range guarded(r, role) {
			f.add(&tcase{name: fld.Name + "_not_writable_by_" + role, as: role,
				comment: fmt.Sprintf("only %s may set %s", strings.Join(fld.Write, ", "), fld.Name),
				body:    with(valid, fld.Name, guardedValue(fld), false), expect: check(notAllowed(fld))})
		}
	}
}

// guarded lists the fields of r that write roles keep from role.
func guarded(r *spec.Resource, role string) []*spec.Field {
	var out []*spec.Field
	for _, fld := range r.Fields {
		if len(fld.Write) > 0 && !fld.Readonly && !fld.Hidden && !slices.Contains(fld.Write, role) {
			out = append(out, fld)
		}
	}
	return out
}

// guardedValue is a value for a guarded field: valid in itself, so only the role refuses it.
func guardedValue(fld *spec.Field) any {
	return variant(fld, 0, "{unique}", func(string) string { return unknownID })
}

func notAllowed(fld *spec.Field) *expect {
	return want(400).code("validation_failed").field(fld.Name, "not_allowed")
}

// uniqueOn reports whether a unique constraint (the field's or an index's) covers field.
func uniqueOn(r *spec.Resource, field string) bool {
	if f := r.Field(field); f != nil && f.Unique {
		return true
	}
	for _, idx := range r.Indexes {
		if idx.Unique && slices.Contains(idx.Fields, field) {
			return true
		}
	}
	return false
}
