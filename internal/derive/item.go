package derive

import (
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/spec"
)

// itemFile starts a file about one record: its endpoint addresses the record the file creates
// first (as the role allowed to create any record).
func (g *gen) itemFile(r *spec.Resource, action spec.Action, method, title string) (*tfile, *recordSet, access, string) {
	a := g.access(r, action)
	actor, ok := a.actor()
	if !ok {
		return nil, nil, a, noneMay(r, action, "no role may "+string(action)+" every "+r.Name+" record")
	}
	if action == spec.ActionUpdate && g.blockedLink(r, actor) != nil {
		// PATCH and PUT send the required relations: the role that does must be able to link them
		for _, role := range a.roles {
			if a.grants[role] == allowed && g.blockedLink(r, role) == nil {
				actor = role
				break
			}
		}
	}
	maker, ok := g.makerOf(r)
	if !ok {
		return nil, nil, a, g.noMaker(r, "no role may create the "+r.Name+" record to "+string(action))
	}
	f := &tfile{name: r.Name + "." + string(action) + ".test.yaml", as: actor, title: title,
		endpoint: method + " " + g.collection(r) + "/{record.response.id}"}
	rs, gap := g.newRecordSet(f, r)
	if gap != "" {
		return nil, nil, a, gap
	}
	rs.record = rs.makeRecord(1, maker)
	f.cases[len(f.cases)-1].comment = "the record this file works on"
	return f, rs, a, ""
}

// expandCases: each relation the record holds comes back as the related record with expand=;
// one whose targets the file's role may not view is refused (expandRefused).
func (g *gen) expandCases(f *tfile, rs *recordSet) {
	for _, fld := range rs.r.Fields {
		ref := get(rs.record, fld.Name)
		if fld.Relation == nil || ref == nil {
			continue
		}
		if g.expandRefused(fld, f.as) {
			f.add(refusedExpand("view_expanding_"+fld.Name, g.collection(rs.r)+"/{record.response.id}?expand="+fld.Name, fld, f.as))
			continue
		}
		key := fld.Name + ".id"
		if list, ok := ref.([]any); ok && len(list) > 0 {
			key, ref = fld.Name+".0.id", list[0]
		}
		if g.expandHidden(f, fld, ref) {
			continue // the role sees only its own targets, and another account made this one
		}
		f.add(&tcase{name: "view_expanding_" + fld.Name, path: g.collection(rs.r) + "/{record.response.id}?expand=" + fld.Name,
			comment: "expand returns the related record in place of its id", expect: want(200).has(key, ref)})
	}
}

// expandRefused reports whether role may view no target of fld: expanded records obey their
// own resource's view rule (auth.md), so expanding fld is refused, the whole request a 403.
func (g *gen) expandRefused(fld *spec.Field, role string) bool {
	if g.s.Auth == nil || role == "" || fld.Relation == nil {
		return false
	}
	view := g.access(g.s.Resource(fld.Relation.To), spec.ActionView)
	return !view.open() && view.grants[role] == denied
}

// expandHidden reports whether the target ref names is one f's role may not see in an expand:
// the role views only the records its row rule selects (its own), and the setup case that made
// the target acted as another account. Expanded, it would come back without the record.
func (g *gen) expandHidden(f *tfile, fld *spec.Field, ref any) bool {
	if g.s.Auth == nil || f.as == "" || !g.viewsOwnOnly(g.s.Resource(fld.Relation.To), f.as) {
		return false
	}
	s, _ := ref.(string)
	name, ok := strings.CutSuffix(strings.TrimPrefix(s, "{"), ".response.id}")
	if !ok {
		return true
	}
	for _, c := range f.cases {
		if c.name == name {
			return c.as != ""
		}
	}
	return true
}

// refusedExpand is the case that expands fld, whose targets role may not view, at path: 403.
func refusedExpand(name, path string, fld *spec.Field, role string) *tcase {
	return &tcase{name: name, path: path, expect: want(403).code("forbidden"),
		comment: role + " may not view " + fld.Relation.To + ": expanding " + fld.Name + " is refused"}
}

// staleCase: an If-Match naming a version the record is not at is a 412 and changes nothing.
func staleCase(f *tfile, etag string, b any, check func(*expect) *expect) {
	f.add(&tcase{name: "stale_if_match", comment: "If-Match " + etag + " is not the record's version",
		headers: yaml.MapSlice{{Key: "If-Match", Value: etag}}, body: b, expect: check(want(412).code("precondition_failed"))})
}

func (g *gen) viewFile(r *spec.Resource) (*tfile, string) {
	f, rs, a, gap := g.itemFile(r, spec.ActionView, "GET",
		"Reading one "+r.Name+" record: roles, other accounts' records, unknown ids.")
	if f == nil {
		return nil, gap
	}
	f.add(&tcase{name: "view", comment: "the record as created", expect: want(200).withSchema().has("id", "{record.response.id}")})
	g.expandCases(f, rs)
	if a.open() && g.s.Auth != nil {
		f.add(&tcase{name: "view_anonymous", comment: "the rule is public", headers: noAuth(),
			expect: want(200).has("id", "{record.response.id}")})
	}
	for _, role := range a.with(allowed) {
		if role != f.as {
			f.add(&tcase{name: "view_as_" + role, as: role, expect: want(200).has("id", "{record.response.id}")})
		}
	}
	g.notFoundCases(f, r, "GET")
	g.credentialCases(f, a, nil)
	g.wrongRoleCases(f, a, nil, nil)
	g.otherAccountCases(f, rs, a, "GET", nil, 200, nil)
	return f, ""
}

// notFoundCases: an id no record has, and text that is not an id, are both 404.
func (g *gen) notFoundCases(f *tfile, r *spec.Resource, method string) {
	var b any
	if method == "PATCH" {
		b = yaml.MapSlice{}
	}
	f.add(&tcase{name: "unknown_id", path: g.collection(r) + "/" + unknownID, body: b, expect: want(404).code("not_found")})
	f.add(&tcase{name: "malformed_id", path: g.collection(r) + "/not-an-id", body: b, expect: want(404).code("not_found")})
}

// otherAccountCases: for each role whose rule selects records by owner, another account's
// record is a 404 (as if it did not exist) — a write 403 where role may view that record —
// and, for writes, left as it was (check); the role's own record answers ok.
func (g *gen) otherAccountCases(f *tfile, rs *recordSet, a access, method string, b any, ok int, check func(*expect) *expect) map[string]owned {
	own := map[string]owned{}
	for _, role := range a.with(rowOnly) {
		if rs.selectsOthers(methodAction[method], role) {
			g.othersSelectedCase(f, role, method)
			continue // its rule reaches this record too (a published listing a buyer sees)
		}
		if e := rs.othersExpect(rs.record, methodAction[method], role); e != nil {
			if check != nil {
				e = check(e)
			}
			f.add(&tcase{name: "other_accounts_record_as_" + role, as: role, method: method, body: b,
				comment: role + " only reaches its own records: this one is another account's", expect: e})
		}
		if !rs.selectsOwn(methodAction[method], role) {
			if gap := rs.othersOnly(methodAction[method], role); gap != "" {
				g.ownGaps = append(g.ownGaps, gap)
			}
			continue // its rule selects no record it makes (selectsOwn): no own-record cases
		}
		path, account, made := g.ownRecord(f, rs, role)
		if path == "" {
			continue
		}
		own[role] = owned{path: path, account: account}
		f.add(&tcase{name: "own_record_as_" + role, as: account, method: method, path: path, body: b, expect: want(ok)})
		if method == "DELETE" || rs.selectsOthersIn(overlay(made, b), methodAction[method], role) {
			continue // (a rule that selects that record by what it holds reaches it for any account)
		}
		if e := rs.othersExpect(overlay(made, b), methodAction[method], role); e != nil {
			f.add(&tcase{name: "own_record_of_another_" + role, as: role + ":other", method: method, path: path, body: b,
				comment: "a second " + role + " account does not reach the first one's record", expect: e})
		}
	}
	return own
}

// othersSelectedCase: a role whose rule also selects records by what they hold, beside their
// owner, reads another account's record its rule selects (200); a write to it would change the
// record the file works on, so a write file gets no case.
func (g *gen) othersSelectedCase(f *tfile, role, method string) {
	if method != "GET" {
		return
	}
	f.add(&tcase{name: "other_accounts_record_it_selects_as_" + role, as: role, method: method,
		comment: role + "'s rule selects this record although another account made it",
		expect:  want(200).has("id", "{record.response.id}")})
}

// othersExpect is the answer to role's request (action) on a record another account made with
// body, which action's rule does not select: a read is 404; a write 404 or 403 as role may
// view the record (refusedOthers), nil when that cannot be told.
func (rs *recordSet) othersExpect(body yaml.MapSlice, action spec.Action, role string) *expect {
	if action == spec.ActionView {
		return want(404).code("not_found")
	}
	return rs.refusedOthers(body, action, role)
}

// methodAction is the action an item file's method takes.
var methodAction = map[string]spec.Action{"GET": spec.ActionView, "PATCH": spec.ActionUpdate, "DELETE": spec.ActionDelete}

// owned is a record an account of a role made as its own: its path and the account (as:).
type owned struct{ path, account string }

func noAuth() yaml.MapSlice { return yaml.MapSlice{{Key: "Authorization", Value: ""}} }

func (g *gen) deleteFile(r *spec.Resource) (*tfile, string) {
	f, rs, a, gap := g.itemFile(r, spec.ActionDelete, "DELETE",
		"Deleting "+r.Name+" records: credentials, roles, other accounts' records, then the delete itself.")
	if f == nil {
		return nil, gap
	}
	still := func(e *expect) *expect { return e.count(r.Name, "id", "{record.response.id}", 1) }
	g.gaps = append(g.gaps, g.ruleCases(f, r, spec.OpDelete, nil, nil, "", nil)...)
	g.credentialCases(f, a, nil)
	g.wrongRoleCases(f, a, nil, still)
	g.otherAccountCases(f, rs, a, "DELETE", nil, 204, still)
	g.notFoundCases(f, r, "DELETE")
	staleCase(f, `"999"`, nil, still)
	f.add(&tcase{name: "delete", comment: "the record is gone from the database", expect: want(204).count(r.Name, "id", "{record.response.id}", 0)})
	f.add(&tcase{name: "delete_again", expect: want(404).code("not_found")})
	f.add(&tcase{name: "read_after_delete", method: "GET", expect: want(404).code("not_found")})
	if r.SoftDelete {
		restore := g.collection(r) + "/{record.response.id}/restore"
		f.add(&tcase{name: "restore", method: "POST", path: restore, comment: "soft delete: the record comes back as it was",
			expect: want(200).key("id").count(r.Name, "id", "{record.response.id}", 1)})
		f.add(&tcase{name: "restore_again", method: "POST", path: restore, comment: "a live record is not in the trash",
			expect: want(404).code("not_found")})
		f.add(&tcase{name: "read_after_restore", method: "GET", expect: want(200).key("id")})
	}
	return f, ""
}
