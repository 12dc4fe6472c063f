package derive

import (
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
)

// A row rule may select records by what they hold as well as by their owner: buyers view
// listings "record.seller == auth.id || (auth.role == 'buyer' && record.status ==
// 'published')". Such a role is rowOnly (Rule.Decide cannot tell for every record), yet it
// reaches records other accounts made. These decide it from the rule's CEL (Rule.Holds) over
// what the suite's bodies send; a relation reads as another account's, and a value the bodies
// do not tell is unknown (expr.Unknown): the rule selects the record only where it does
// whatever that value is, else it counts as not selecting it, as for any rowOnly role.

// selectsOthers reports whether action's rule, for role, selects the record an item file works
// on although another account made it (a published listing a seller made, for a buyer).
func (rs *recordSet) selectsOthers(action spec.Action, role string) bool {
	return rs.holdsOn(rs.record, action, role)
}

// selectsOthersIn reports whether action's rule, for role, selects a record made with body
// although another account made it: a second account of the role reaches the role's own
// record then. No body (an account's own, from auth/me) tells nothing: false.
func (rs *recordSet) selectsOthersIn(body yaml.MapSlice, action spec.Action, role string) bool {
	return body != nil && rs.holdsOn(body, action, role)
}

// holdsOn evaluates action's rule for role on a record another account made with body.
func (rs *recordSet) holdsOn(body yaml.MapSlice, action spec.Action, role string) bool {
	return rs.g.holdsForOthers(rs.r, action, role, bodyValue(body))
}

// bodyValue reads a field of a record made with body: what body sends, else the field's
// default.
func bodyValue(body yaml.MapSlice) func(*spec.Field) (any, bool) {
	return func(fld *spec.Field) (any, bool) {
		v := get(body, fld.Name)
		if v == nil {
			v = defaultOf(fld)
		}
		return told(fld, v)
	}
}

// refusedOthers is the answer to role's write (action) to a record another account made with
// body, which the write's rule does not select: 404 where role's view rule does not select
// it either, 403 where it does — the record is no secret to role, only the change is refused
// (auth.md). Nil where the view rule's verdict depends on what the bodies do not tell: the
// case is left out.
func (rs *recordSet) refusedOthers(body yaml.MapSlice, action spec.Action, role string) *expect {
	value := bodyValue(body)
	if body == nil { // an account's own, from auth/me: its values are not told
		value = func(*spec.Field) (any, bool) { return nil, false }
	}
	holds, known := rs.g.verdictForOthers(rs.r, spec.ActionView, role, value, true)
	switch {
	case !known && rs.g.sameRule(rs.r, action, spec.ActionView):
		return want(404).code("not_found") // the view rule is the write's, which does not select it
	case !known:
		return nil
	case holds:
		return want(403).code("forbidden")
	}
	return want(404).code("not_found")
}

// sameRule reports whether r's rules for two actions are one expression, as written.
func (g *gen) sameRule(r *spec.Resource, a, b spec.Action) bool {
	ra, rb := specRule(r, a), specRule(r, b)
	return ra != nil && rb != nil && ra.Expr != "" && strings.TrimSpace(ra.Expr) == strings.TrimSpace(rb.Expr)
}

// specRule is r's access rule for action as the spec writes it (a named action's own).
func specRule(r *spec.Resource, action spec.Action) *spec.Rule {
	if name, ok := strings.CutPrefix(string(action), expr.ActionPrefix); ok {
		if a := r.RecordAction(name); a != nil {
			return a.Access
		}
		return nil
	}
	return r.Access[action]
}

// seesOthers reports whether role views every record of r the suite makes, whoever made it:
// its view rule holds on the values every record of r starts with alike — what every body
// sends (a state machine's first initial state, an enum's or a boolean's example), or the
// default of a field no body sends (a readonly state starts in its default).
func (g *gen) seesOthers(r *spec.Resource, role string) bool {
	return g.holdsForOthers(r, spec.ActionView, role, func(fld *spec.Field) (any, bool) {
		switch {
		case !writable(r, fld) && len(fld.Write) > 0:
			return nil, false // a role that may write it may send it
		case !writable(r, fld):
			return told(fld, defaultOf(fld))
		case len(fld.Transitions) > 0:
			return startState(fld), true
		case samePerBody(r, fld) && fld.Example != nil:
			return told(fld, variant(fld, 0, "", nil))
		}
		return nil, false
	})
}

// viewsOwnOnly reports whether role views only its own records of r: its rule selects some
// records only, and not those another account made.
func (g *gen) viewsOwnOnly(r *spec.Resource, role string) bool {
	return g.access(r, spec.ActionView).grants[role] == rowOnly && !g.seesOthers(r, role)
}

// holdsForOthers evaluates action's rule of r for an account of role on a record another
// account made, whose plain fields read as value gives them.
func (g *gen) holdsForOthers(r *spec.Resource, action spec.Action, role string, value func(*spec.Field) (any, bool)) bool {
	holds, known := g.verdictForOthers(r, action, role, value, false)
	return known && holds
}

// verdictForOthers is holdsForOthers telling apart a rule that does not hold from one whose
// outcome depends on what value does not tell (known false). through reads a relation
// followed to another record (record.project.lead) as leading to another account's, as the
// cases on another account's record take it (their rule's parts through relations do not
// select the record); else such a value is not told.
func (g *gen) verdictForOthers(r *spec.Resource, action spec.Action, role string, value func(*spec.Field) (any, bool), through bool) (holds, known bool) {
	if g.rules == nil || role == "" {
		return false, true
	}
	holds, known = g.ruleVerdict(r, action, role, value, through)
	if !onExisting(action) || grantOf(g.rules.Rule(r.Name, spec.ActionView), role) == denied {
		return holds, known
	}
	// a write reaches what the view rule selects too (access.go's withView)
	vh, vk := g.ruleVerdict(r, spec.ActionView, role, value, through)
	switch {
	case (known && !holds) || (vk && !vh):
		return false, true
	case known && vk:
		return true, true
	}
	return false, false
}

// ruleVerdict is verdictForOthers of action's rule alone.
func (g *gen) ruleVerdict(r *spec.Resource, action spec.Action, role string, value func(*spec.Field) (any, bool), through bool) (holds, known bool) {
	rule := g.rules.Rule(r.Name, action)
	if rule == nil {
		return false, true
	}
	holds, known, err := rule.Verdict(&expr.Auth{ID: probeID, Role: role, Roles: []string{role}}, func(path string) any {
		return g.othersPath(r, path, value, through)
	})
	return holds, known && err == nil
}

// othersPath is the value of path on a record of r another account made (verdictForOthers).
func (g *gen) othersPath(r *spec.Resource, path string, value func(*spec.Field) (any, bool), through bool) any {
	name, rest, _ := strings.Cut(path, ".")
	fld := r.Field(name)
	switch {
	case path == "id":
		return otherID // another account's record: not the account itself, nor any record of it
	case fld != nil && fld.Relation != nil && rest != "" && through:
		if to := g.s.Resource(fld.Relation.To); to != nil {
			return g.othersPath(to, rest, func(*spec.Field) (any, bool) { return nil, false }, through)
		}
	case fld == nil || (fld.Relation != nil && rest != "") || fld.Derived() || fld.DefaultExpr.Set():
		// not told: a value read through a relation, one an expression gives
	case fld.Relation != nil:
		return otherID
	case rest == "":
		if v, ok := value(fld); ok {
			return v
		}
	}
	return expr.Unknown // the rule holds only where it holds whatever this is
}

// defaultOf is f's static default as a record holds it: the spec keeps it as text, and a
// boolean's "true" is true (a rule reading record.shared holds on it).
func defaultOf(f *spec.Field) any {
	s, ok := f.Default.(string)
	if !ok || f.Type != spec.TypeBoolean {
		return f.Default
	}
	if b, err := strconv.ParseBool(s); err == nil {
		return b
	}
	return f.Default
}

// told is v as a rule reads field f, when it is text, an enum or a boolean a body sends as
// written (not a placeholder); ok is false otherwise.
func told(f *spec.Field, v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case bool:
		return x, f.Type == spec.TypeBoolean
	case string:
		return x, (isText(f) || f.Type == spec.TypeEnum) && !strings.Contains(x, "{")
	}
	return nil, false
}
