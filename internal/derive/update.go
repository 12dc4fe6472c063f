package derive

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/spec"
)

func (g *gen) updateFile(r *spec.Resource) (*tfile, string) {
	f, rs, a, gap := g.itemFile(r, spec.ActionUpdate, "PATCH",
		"Updating "+r.Name+" records: PATCH and PUT, every constraint, bad bodies, credentials, roles, other accounts.")
	if f == nil {
		return nil, gap
	}
	patch := rs.body(4, "{unique}4")
	f.add(&tcase{name: "patch_valid", comment: "PATCH changes the fields sent", body: patch, expect: written(want(200), r, patch, "patch_valid")})
	put := rs.body(5, "{unique}5")
	f.add(&tcase{name: "put_valid", comment: "PUT replaces the record", method: "PUT", body: put, expect: written(want(200), r, put, "put_valid")})
	if c := putMinimal(r, put); c != nil {
		f.add(c)
		f.add(&tcase{name: "put_valid_again", method: "PUT", body: put, expect: want(200)})
	}
	held := heldValues(r, put)
	unchanged := func(e *expect) *expect { return e.countWhere(r.Name, held, 1) }
	staleCase(f, staleTag(rs.record, patch, put), patch, unchanged)
	g.uniqueCases(f, rs, g.collection(r)+"/{record.response.id}", unchanged)
	g.violationCases(f, r, put, true, unchanged)
	g.gaps = append(g.gaps, g.ruleCases(f, r, spec.OpUpdate, nil, nil, "", unchanged)...)
	g.gaps = append(g.gaps, g.stateCases(f, rs)...)
	// Bodies below are patch_valid's, so a 400 is compared with it field by field.
	g.malformedCases(f, patch, unchanged)
	readonlyCases(f, r, patch, true, unchanged)
	g.notFoundCases(f, r, "PATCH")
	g.credentialCases(f, a, patch)
	g.wrongRoleCases(f, a, patch, unchanged)
	g.writeRoleCases(f, r, a, patch, unchanged)
	own := ownChange(r, g.refusedOnOwnAccount(r)...)
	kept := unchanged
	if len(own) > 0 {
		name := own[0].Key.(string)
		if v := get(put, name); v != nil && get(held, name) == nil {
			where := append(append(yaml.MapSlice{}, held...), yaml.MapItem{Key: name, Value: v})
			kept = func(e *expect) *expect { return e.countWhere(r.Name, where, 1) } // the field a wrong PATCH would change
		}
	}
	// By now the record holds put_valid's values, not those it was made with: the other
	// accounts' cases judge the rule on those (an enum without an example differs).
	cur := *rs
	cur.record = put
	owned := g.otherAccountCases(f, &cur, a, "PATCH", own, 200, kept)
	for _, role := range a.with(rowOnly) {
		if cur.selectsOthers(spec.ActionUpdate, role) {
			continue // its rule reaches this record too: a PUT would replace it
		}
		if e := cur.refusedOthers(put, spec.ActionUpdate, role); e != nil {
			f.add(&tcase{name: "other_accounts_record_put_as_" + role, as: role, method: "PUT", body: put,
				comment: "nor may it replace another account's record", expect: unchanged(e)})
		}
		if own := owned[role]; own.path != "" {
			g.escalationCases(f, r, role, own)
		}
	}
	return f, ""
}

// ownChange is a small valid PATCH body: one plain writable field with a new value — one no
// rule reads where there is such a field, as a new value of it alone could break the rule
// (ends_at moved, starts_at not); else every date and date-time, moved by the same days;
// else the first such field. A state machine's field, and one every body sends alike, are left
// out (sending it is no change); so is one under a unique index (it would clash), and the
// fields named in refused (an account's own email: refusedOnOwnAccount).
func ownChange(r *spec.Resource, refused ...string) yaml.MapSlice {
	var first *spec.Field
	var dates yaml.MapSlice
	for _, fld := range r.Fields {
		if !writable(r, fld) || fld.Relation != nil || uniqueOn(r, fld.Name) || len(fld.Transitions) > 0 || samePerBody(r, fld) ||
			slices.Contains(refused, fld.Name) {
			continue
		}
		if !ruleReads(r, fld) {
			return yaml.MapSlice{{Key: fld.Name, Value: variant(fld, 6, "{unique}6", nil)}}
		}
		if isDate(fld) {
			dates = append(dates, yaml.MapItem{Key: fld.Name, Value: variant(fld, 6, "{unique}6", nil)})
		}
		if first == nil {
			first = fld
		}
	}
	switch {
	case len(dates) > 0:
		return dates
	case first == nil:
		return yaml.MapSlice{}
	}
	return yaml.MapSlice{{Key: first.Name, Value: variant(first, 6, "{unique}6", nil)}}
}

// refusedOnOwnAccount lists the fields of r an account may not change by PATCH on its own
// record, by design (docs/auth.md): on the account resource, its email, changed only through
// POST auth/email with the current password (400 not_allowed). Its password is no field, and
// role, verified and disabled are guarded by the administering roles (escalationCases).
func (g *gen) refusedOnOwnAccount(r *spec.Resource) []string {
	if g.s.Auth == nil || r.Name != g.s.Auth.Account {
		return nil
	}
	return []string{spec.FieldEmail}
}

// samePerBody reports whether every body sends f alike (an enum or boolean with an example, a
// pinned number): a PATCH of it would be no change.
func samePerBody(r *spec.Resource, f *spec.Field) bool {
	return (f.Type == spec.TypeEnum || f.Type == spec.TypeBoolean) && f.Example != nil || pinned(r, f)
}

func isDate(f *spec.Field) bool { return f.Type == spec.TypeDate || f.Type == spec.TypeDatetime }

// ruleReads reports whether one of r's rules names fld in its check (record.x, new.x, old.x)
// or blames it.
func ruleReads(r *spec.Resource, fld *spec.Field) bool {
	return slices.ContainsFunc(r.Rules, func(rule *spec.LogicRule) bool { return readsOwn(rule, fld.Name) })
}

// escalationCases: on its own record, a role still may not set fields guarded by write roles
// (a customer making itself admin).
func (g *gen) escalationCases(f *tfile, r *spec.Resource, role string, own owned) {
	for _, fld := range guarded(r, role) {
		f.add(&tcase{name: fld.Name + "_not_writable_on_own_record_as_" + role, as: own.account, path: own.path,
			comment: fmt.Sprintf("only %s may set %s, even on their own record", strings.Join(fld.Write, ", "), fld.Name),
			body:    yaml.MapSlice{{Key: fld.Name, Value: guardedValue(fld)}}, expect: notAllowed(fld)})
	}
}

// heldValues is what a refused update must leave in place: the record (by id) still holding
// put_valid's plain values.
func heldValues(r *spec.Resource, put yaml.MapSlice) yaml.MapSlice {
	where := yaml.MapSlice{{Key: "id", Value: "{record.response.id}"}}
	for _, item := range put {
		fld := r.Field(item.Key.(string))
		s, isText := item.Value.(string)
		if fld.Relation != nil || fld.StoredAsJSON() || (isText && strings.Contains(s, "{random:")) {
			continue
		}
		where = append(where, item)
		if len(where) == 3 {
			break
		}
	}
	return where
}

// putMinimal: a PUT with only the required fields returns every other field to its default
// (or null), as replacing a record means.
func putMinimal(r *spec.Resource, put yaml.MapSlice) *tcase {
	b, e := yaml.MapSlice{}, want(200)
	reset := 0
	for _, item := range put {
		fld := r.Field(item.Key.(string))
		switch {
		case fld.Required && !fld.HasDefault, len(fld.Transitions) > 0, ruleReads(r, fld), fld.DefaultExpr.Set():
			// A state machine keeps its state (back to its default is a transition it may
			// refuse), a field a rule reads its value (a rule may need it to hold), and one
			// with a default_expr too: its default is computed, maybe from what the suite's
			// accounts do not hold (get('users', auth.id).org), not null.
			b = append(b, item)
		case fld.IsToMany() || fld.StoredAsJSON():
		case !fld.HasDefault:
			e.has(fld.Name, nil)
			reset++
		case fld.Default != nil && fld.Default != "auth.id" && fld.Type != spec.TypeDatetime:
			e.has(fld.Name, fld.Default)
			reset++
		}
	}
	if reset == 0 {
		return nil
	}
	return &tcase{name: "put_resets_absent_fields", method: "PUT", body: b, expect: e,
		comment: "PUT replaces the record: fields it leaves out return to their defaults or null"}
}

// staleTag is an If-Match the record is past: "1", as patch_valid and put_valid made it version
// 3 — unless they sent what it held (every value pinned to its example), so nothing was
// written and it is still at 1: then a version it never reached.
func staleTag(record, patch, put yaml.MapSlice) string {
	if len(put) != len(record) || !holdsAll(record, patch) || !holdsAll(record, put) {
		return `"1"`
	}
	return `"999"`
}

// holdsAll reports whether record holds every value of b.
func holdsAll(record, b yaml.MapSlice) bool {
	for _, it := range b {
		i := slices.IndexFunc(record, func(r yaml.MapItem) bool { return r.Key == it.Key })
		if i < 0 || fmt.Sprint(record[i].Value) != fmt.Sprint(it.Value) {
			return false
		}
	}
	return true
}
