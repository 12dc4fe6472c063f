package derive

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/spec"
)

func (g *gen) collection(r *spec.Resource) string { return g.base + "/" + r.Name }

func (g *gen) createFile(r *spec.Resource) (*tfile, string) {
	a := g.access(r, spec.ActionCreate)
	actor, ok := g.creator(r)
	if !ok {
		return nil, noneMay(r, spec.ActionCreate, "no role may create "+r.Name)
	}
	maker, linked := g.makerOf(r)
	if linked {
		actor = maker // a role that can link every required relation (hidden.go)
	}
	f := &tfile{name: r.Name + ".create.test.yaml", endpoint: "POST " + g.collection(r), as: actor,
		title: "Creating " + r.Name + ": valid data, every constraint, bad bodies, credentials and roles."}
	rs, gap := g.newRecordSet(f, r)
	if gap != "" {
		return nil, gap
	}
	if !linked { // no creating role can link: the refusal is all there is to derive
		return g.refusalFile(f, rs, a), g.unlinkable(r)
	}
	valid := rs.body(1, "{unique}1")
	mk := marker(r, valid, "")
	c := f.add(&tcase{name: "create_valid", comment: "valid generated data is stored as sent", body: valid,
		expect: written(want(201), r, valid, "create_valid")})
	one := g.oneEach(r)
	if one != nil {
		c.as = accountFor(f, f.as, c.name) // an account of its own: its one record of r
	}
	unchanged := func(e *expect) *expect { return e.count(r.Name, mk, get(valid, mk), 1) }
	if g.s.Auth != nil {
		g.apiKeyCase(f, rs, valid, unchanged)
	}
	g.uniqueCases(f, rs, "", nil)
	if one != nil {
		secondOwnCase(f, rs, one, c.as, unchanged)
	}
	g.violationCases(f, r, valid, false, unchanged)
	g.gaps = append(g.gaps, g.ruleCases(f, r, spec.OpCreate, valid, rs.freshAtExamples, "", nil)...)
	initialCases(f, r, rs.fresh(7), nil)
	g.malformedCases(f, valid, unchanged)
	readonlyCases(f, r, valid, false, unchanged)
	g.credentialCases(f, a, valid)
	g.wrongRoleCases(f, a, valid, unchanged)
	g.othersRecordCases(f, rs, a)
	g.hiddenLinkCases(f, rs, a)
	g.writeRoleCases(f, r, a, valid, unchanged)
	return f, ""
}

// written checks a write's response and, through the store, that the record holds the body.
func written(e *expect, r *spec.Resource, b yaml.MapSlice, caseName string) *expect {
	e.withSchema().key("id")
	for _, item := range b {
		fld := r.Field(item.Key.(string))
		if s, ok := item.Value.(string); ok && strings.Contains(s, "{random:") {
			continue // a new random value each time it is written out
		}
		switch {
		case fld == nil || fld.IsToMany() || fld.StoredAsJSON():
		case fld.Type == spec.TypeDecimal || fld.Type == spec.TypeDatetime || fld.Type == spec.TypeDate:
			e.has(fld.Name, item.Value)
			e.sentence("%s stored as %s", fld.Name, plainText(item.Value))
		default:
			e.has(fld.Name, item.Value)
		}
	}
	return e.count(r.Name, "id", "{"+caseName+".response.id}", 1)
}

// uniqueCases: a value another record holds is a 409 naming the field (or the index). On
// create (path "") the clash is with create_valid's record; on update the record at path is
// given the values of a second record. Taken values are read from the other record's response.
func (g *gen) uniqueCases(f *tfile, rs *recordSet, path string, check func(*expect) *expect) {
	r := rs.r
	if !g.hasUnique(r) {
		return
	}
	fresh, source, method := rs.body(2, "{unique}2"), "create_valid", ""
	if path != "" {
		maker := f.as
		if !g.mayMake(r, f.as) {
			maker, _ = g.makerOf(r) // the file's role may not create one (reviews by their author only)
		}
		rs.create("second_record", 2, maker)
		fresh, source, method = rs.body(5, "{unique}5"), "second_record", "PATCH"
	}
	taken := func(field string) string { return "{" + source + ".response." + field + "}" }
	frozen := map[string]*spec.LogicRule{}
	if path != "" {
		frozen = frozenOnUpdate(r)
	}
	for _, fld := range r.Fields {
		if !fld.Unique || !writable(r, fld) || g.leftOut(fld) { // a missing link clashes with nothing
			continue
		}
		if rl := frozen[fld.Name]; rl != nil {
			g.gaps = append(g.gaps, fmt.Sprintf("%s taken on update: rule %s keeps %s unchanged", fld.Name, ruleLabel(rl), fld.Name))
			continue
		}
		b := withoutOtherUniqueLinks(r, with(fresh, fld.Name, taken(fld.Name), false), fld.Name)
		if path != "" {
			b = yaml.MapSlice{{Key: fld.Name, Value: taken(fld.Name)}}
			for _, o := range g.sharedThrough(r, fld) {
				// the taken target refers to one of these too, and a rule may hold them equal
				// (a review's course and its enrollment's): the second record's go with it
				if frozen[o.Name] == nil {
					b = with(b, o.Name, taken(o.Name), false)
				}
			}
		}
		e := want(409).code("conflict").field(fld.Name, "")
		if check != nil {
			e = check(e)
		}
		f.add(&tcase{name: fld.Name + "_taken", comment: fld.Name + " is unique", method: method, path: path, body: b, expect: e})
	}
	for i, idx := range r.Indexes {
		if !idx.Unique || g.leavesOut(r, idx.Fields) {
			continue
		}
		if rl, name := frozenOf(frozen, idx.Fields); rl != nil {
			// the second record differs from this one in some field of the index, maybe this one
			g.gaps = append(g.gaps, fmt.Sprintf("unique index %d (%s) taken on update: rule %s keeps %s unchanged",
				i+1, strings.Join(idx.Fields, ", "), ruleLabel(rl), name))
			continue
		}
		b := withoutOtherUniqueLinks(r, fresh, idx.Fields...)
		for _, name := range idx.Fields {
			b = with(b, name, taken(name), false)
		}
		f.add(&tcase{name: "unique_index_" + strconv.Itoa(i+1) + "_taken", method: method, path: path, body: b,
			comment: "the unique index on " + strings.Join(idx.Fields, ", "), expect: want(409).code("conflict")})
	}
}

// sharedThrough lists r's other to-one relations, under no unique constraint, to a resource
// that the target of fld refers to as well (a review's course, when its enrollment has one).
func (g *gen) sharedThrough(r *spec.Resource, fld *spec.Field) []*spec.Field {
	if fld.Relation == nil || fld.IsToMany() || fld.IsInverse() {
		return nil
	}
	to := g.s.Resource(fld.Relation.To)
	var out []*spec.Field
	for _, o := range r.Fields {
		if o == fld || o.Relation == nil || o.IsToMany() || o.IsInverse() || uniqueOn(r, o.Name) ||
			!writable(r, o) || g.leftOut(o) {
			continue
		}
		for _, tf := range to.Fields {
			if tf.Relation != nil && !tf.IsToMany() && !tf.IsInverse() && tf.Relation.To == o.Relation.To {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// withoutOtherUniqueLinks drops from b the optional unique to-one relations other than keep:
// a fresh body links the same setup records as create_valid, so such a link would clash too,
// and which of two clashes a database names first is its own choice.
func withoutOtherUniqueLinks(r *spec.Resource, b yaml.MapSlice, keep ...string) yaml.MapSlice {
	for _, fld := range r.Fields {
		if fld.Unique && fld.Relation != nil && !fld.IsToMany() && !fld.Required && !slices.Contains(keep, fld.Name) {
			b = with(b, fld.Name, nil, true)
		}
	}
	return b
}

// hasUnique reports whether r has a unique field or index a body can clash in (a link bodies
// leave out clashes with nothing).
func (g *gen) hasUnique(r *spec.Resource) bool {
	for _, f := range r.Fields {
		if f.Unique && writable(r, f) && !g.leftOut(f) {
			return true
		}
	}
	for _, idx := range r.Indexes {
		if idx.Unique && !g.leavesOut(r, idx.Fields) {
			return true
		}
	}
	return false
}

// apiKeyCase: an API key acting with the file's role may create too. An API key is no
// account, so a required relation defaulting to auth.id has no value: the case sets it when
// the role may (to a record of its own), else (readonly, hidden, or written by other roles
// only) sends create_valid's body (valid; the credential is all it changes, so the runner
// holds the 400 to naming that relation alone) and expects the 400 naming it.
func (g *gen) apiKeyCase(f *tfile, rs *recordSet, valid yaml.MapSlice, unchanged func(*expect) *expect) {
	b, e := rs.fresh(3), want(201).key("id")
	if g.keyRefused(rs.r, spec.ActionCreate, f.as) {
		// the rule holds only for the creator's own records (record.author == auth.id)
		f.add(&tcase{name: "create_with_an_api_key", comment: "an API key is no account: a rule that needs the creator's own record refuses it",
			headers: yaml.MapSlice{{Key: "Authorization", Value: "Bearer {api_key}"}}, body: b,
			expect: want(403).code("forbidden").count(rs.r.Name, marker(rs.r, b, ""), get(b, marker(rs.r, b, "")), 0)})
		return
	}
	if fld := keyUnset(rs.r, f.as); fld != nil {
		f.add(&tcase{name: "create_with_an_api_key", headers: yaml.MapSlice{{Key: "Authorization", Value: "Bearer {api_key}"}}, body: valid,
			comment: "an API key is no account: " + fld.Name + ", required and defaulting to auth.id, gets no value, and the key may not set it",
			expect:  unchanged(want(400).code("validation_failed").field(fld.Name, "required"))})
		return
	}
	for _, fld := range rs.r.Fields {
		if fld.Relation == nil || !fld.Required || fld.Default != "auth.id" || get(b, fld.Name) != nil {
			continue
		}
		b = with(b, fld.Name, "{"+rs.target(fld, 3)+".response.id}", false)
	}
	b, e = g.keyHidden(rs.r, f.as, b, e)
	comment := "an API key acting with the role may create too (an API key is no account: auth.id defaults do not apply)"
	if rl := readsAuthID(rs.r); rl != nil && e.status == 201 {
		mk := marker(rs.r, b, "")
		e, comment = ruleRefusal(rl).count(rs.r.Name, mk, get(b, mk), 0),
			"an API key is no account: rule "+ruleLabel(rl)+" reads auth.id, which it has none of, and cannot be computed"
	}
	f.add(&tcase{name: "create_with_an_api_key", comment: comment,
		headers: yaml.MapSlice{{Key: "Authorization", Value: "Bearer {api_key}"}}, body: b, expect: e})
}

// keyUnset is the first required relation of r defaulting to auth.id that an API key acting
// with role may not set (readonly, hidden, or written by other roles only), else nil.
func keyUnset(r *spec.Resource, role string) *spec.Field {
	for _, fld := range r.Fields {
		if fld.Relation != nil && fld.Required && fld.Default == "auth.id" &&
			(fld.Readonly || fld.Hidden || (len(fld.Write) > 0 && !slices.Contains(fld.Write, role))) {
			return fld
		}
	}
	return nil
}

// readsAuthID is the first create rule of r that compares auth.id in one of its conjuncts
// (record.campaign.owner != auth.id): for an API key, which has no account, it cannot be
// computed and refuses. A comparison under || may not be reached (auth.role == 'admin' ||
// …): such a rule is not judged.
func readsAuthID(r *spec.Resource) *spec.LogicRule {
	for _, rl := range r.Rules {
		if !spec.Applies(rl.On, spec.OpCreate) {
			continue
		}
		for _, c := range conjuncts(parseAssert(rl.Check.Text)) {
			if c.Kind() != celast.CallKind || len(c.AsCall().Args()) != 2 {
				continue
			}
			fn := c.AsCall().FunctionName()
			if (fn == operators.Equals || fn == operators.NotEquals) && slices.ContainsFunc(c.AsCall().Args(), isAuthID) {
				return rl
			}
		}
	}
	return nil
}

// ruleRefusal is the answer of a refusing rule: its 409 with its code when it is about stored
// state, else the 400 naming its first field with its code.
func ruleRefusal(rl *spec.LogicRule) *expect {
	switch {
	case rl.Conflict:
		return want(409).code(rl.Code)
	case len(rl.Fields) > 0:
		return want(400).code("validation_failed").field(rl.Fields[0], rl.Code)
	}
	return want(400).code("validation_failed")
}

// keyHidden: the relations of b whose targets no key acting with role may view (a member's
// own bookings: the key owns none) are refused like missing records — an optional one is left
// out of b, a required one is the 400 naming it (unless e already expects a 400).
func (g *gen) keyHidden(r *spec.Resource, role string, b yaml.MapSlice, e *expect) (yaml.MapSlice, *expect) {
	for _, fld := range r.Fields {
		if fld.Relation == nil || fld.AllowHidden || get(b, fld.Name) == nil || !g.keyRefused(g.s.Resource(fld.Relation.To), spec.ActionView, role) {
			continue
		}
		switch {
		case !fld.Required:
			b = with(b, fld.Name, nil, true)
		case e.status != 400:
			mk := marker(r, b, "")
			e = want(400).code("validation_failed").field(fld.Name, "not_found").count(r.Name, mk, get(b, mk), 0)
		}
	}
	return b, e
}

// secondOwnCase: an account's second record of a resource it may hold one of only (oneEach:
// fld, unique, defaults to the creator) clashes with its first, create_valid's, made by
// account: a 409 naming fld, nothing written and the first kept. It is the one taken-value case such a field
// has: no role that creates the record may send fld, and two accounts' records never share it.
func secondOwnCase(f *tfile, rs *recordSet, fld *spec.Field, account string, check func(*expect) *expect) {
	b := withoutOtherUniqueLinks(rs.r, rs.body(2, "{unique}2"), fld.Name)
	mk := marker(rs.r, b, "")
	f.add(&tcase{name: fld.Name + "_taken_by_a_second_record", as: account, body: b,
		comment: fld.Name + " is unique and defaults to the creator: the account's second record clashes with its first",
		expect:  check(want(409).code("conflict").field(fld.Name, "").count(rs.r.Name, mk, get(b, mk), 0))})
}
