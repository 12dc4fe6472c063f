package spec

import (
	"slices"
	"strings"
)

var codeRe = identRe

// validateLogic checks what can be checked without CEL: names, fields, resources, states.
// internal/logic type-checks the expressions themselves.
func validateLogic(s *Spec, r *Resource, c *collector) {
	for _, f := range r.Fields {
		validateFieldLogic(s, r, f, c)
	}
	rules, effects := declared{}, declared{}
	for _, rule := range r.Rules {
		rules.note(c, rule.NamePos, "rule", rule.Name)
		validateRule(r, rule, c)
	}
	for _, ef := range r.Effects {
		effects.note(c, ef.NamePos, "effect", ef.Name)
		validateEffect(s, r, ef, c)
	}
	seen := map[string]bool{}
	for _, a := range r.Actions {
		checkIdent(c, a.Pos, "action", a.Name)
		if seen[a.Name] {
			c.add(a.Pos, "action %s is declared twice", a.Name)
		}
		seen[a.Name] = true
		if a.Name == "restore" && r.SoftDelete {
			c.add(a.Pos, "action restore: a soft_delete resource has a built-in restore action; name this one otherwise")
		}
		validateAction(s, r, a, c)
	}
	if r.Retention > 0 && !r.SoftDelete {
		c.add(r.Pos, "resource %s: retention is for soft_delete: true", r.Name)
	}
}

// declared notes where each name of one list was first declared, so that a second
// declaration is an error saying where the first one is.
type declared map[string]Pos

// note reports name at pos when the list declared it before; an empty name is not noted.
func (d declared) note(c *collector, pos Pos, what, name string) {
	if name == "" {
		return
	}
	if first, ok := d[name]; ok {
		c.add(pos, "%s %s is declared twice (first at line %d)", what, name, first.Line)
		return
	}
	d[name] = pos
}

func validateRule(r *Resource, rule *LogicRule, c *collector) {
	for _, name := range rule.Fields {
		if r.Field(name) == nil && !slices.Contains(SystemFields, name) {
			c.add(rule.Pos, "rule %s: fields: %q is not a field of %s%s", rule.Name, name, r.Name, suggest(name, fieldNames(r)))
		}
	}
	if rule.Code != "" && !codeRe.MatchString(rule.Code) {
		c.add(rule.Pos, "rule %s: code %q must be lowercase letters, digits and _ (it is a stable error code)", rule.Name, rule.Code)
	}
	if rule.Conflict && rule.Code == "" {
		c.add(rule.Pos, "rule %s: conflict: true needs code: (the 409's error code, e.g. insufficient_stock)", rule.Name)
	}
	for _, smp := range rule.ViolatedBy {
		f := r.Field(smp.Field)
		switch {
		case f == nil:
			c.add(smp.Pos, "rule %s: violated_by: %q is not a field of %s%s", rule.Name, smp.Field, r.Name, suggest(smp.Field, fieldNames(r)))
		case f.Readonly || f.IsInverse() || f.Relation != nil || f.StoredAsJSON():
			c.add(smp.Pos, "rule %s: violated_by: %s must be a plain field a client writes", rule.Name, smp.Field)
		default:
			if msg := valueProblem(f, smp.Value); msg != "" {
				c.add(smp.ValuePos, "rule %s: violated_by: %s %q %s (the field refuses it, so the derived suite would never reach the rule)",
					rule.Name, smp.Field, smp.Value, msg)
			}
		}
	}
}

func validateEffect(s *Spec, r *Resource, ef *Effect, c *collector) {
	if ef.Each != "" {
		if f := r.Field(ef.Each); f == nil || !f.IsChildren() {
			c.add(ef.Pos, "effect %s: each: %q must be an inverse of a to-one relation (1:N) of %s%s", ef.Name, ef.Each, r.Name,
				didYouMean(ef.Each, childrenNames(r)))
		}
	}
	target := s.Resource(ef.Update)
	if target == nil {
		c.add(ef.Pos, "effect %s: update: %q is not a resource%s", ef.Name, ef.Update, didYouMean(ef.Update, resourceNames(s)))
		return
	}
	checkAssignments(target, ef.Set, "effect "+ef.Name, c)
}

// checkAssignments checks that each assigned field is a stored field the write may set.
func checkAssignments(r *Resource, set []Assignment, what string, c *collector) {
	for _, a := range set {
		f := r.Field(a.Field)
		switch {
		case f == nil:
			c.add(a.Pos, "%s: %q is not a field of %s%s", what, a.Field, r.Name, suggest(a.Field, fieldNames(r)))
		case f.IsInverse() || f.Derived() || f.Name == FieldPasswordHash:
			c.add(a.Pos, "%s: %s.%s cannot be set (inverse, computed or system field)", what, r.Name, a.Field)
		default:
			checkEnumLiteral(f, a, what+":", c)
		}
	}
}

// checkEnumLiteral refuses a text literal assigned to an enum field that is none of its
// values: every write (every run of a schedule or trigger) would be refused.
func checkEnumLiteral(f *Field, a Assignment, what string, c *collector) {
	if v, ok := a.Value.StringLiteral(); ok && f.Type == TypeEnum && !slices.Contains(f.Values, v) {
		c.add(a.Pos, "%s %s %q is not one of its values (%s)", what, a.Field, v, strings.Join(f.Values, ", "))
	}
}

func validateAction(s *Spec, r *Resource, a *RecordAction, c *collector) {
	if a.Access != nil && !a.Access.Public && s.Auth == nil {
		c.add(a.Access.Pos, "action %s: roles and expressions need an auth block with accounts", a.Name)
	}
	if a.Access != nil {
		for _, role := range a.Access.Roles {
			if !slices.Contains(s.Roles, role) {
				c.add(a.Access.Pos, "action %s: access: %s", a.Name, notARole(s, role))
			}
		}
	}
	for _, f := range a.Input {
		checkIdent(c, f.Pos, "input field", f.Name)
		if f.Type == TypeRelation && f.Relation != nil && f.Relation.Kind != RelToOne {
			c.add(f.Pos, "action %s: input %s: only to-one relations can be inputs", a.Name, f.Name)
			continue
		}
		validateField(s, r, f, c)
	}
	for _, st := range a.Steps {
		validateStep(s, r, a, st, c)
	}
}

func validateStep(s *Spec, r *Resource, a *RecordAction, st *Step, c *collector) {
	what := "action " + a.Name
	switch {
	case len(st.Set) > 0:
		checkAssignments(r, st.Set, what, c)
	case st.Create != "":
		if t := s.Resource(st.Create); t == nil {
			c.add(st.Pos, "%s: create: %q is not a resource%s", what, st.Create, didYouMean(st.Create, resourceNames(s)))
		} else {
			checkAssignments(t, st.Values, what, c)
		}
	case st.Update != "" || st.Delete != "":
		name := st.Update + st.Delete
		t := s.Resource(name)
		if t == nil {
			c.add(st.Pos, "%s: %q is not a resource%s", what, name, didYouMean(name, resourceNames(s)))
			return
		}
		if !st.ID.Set() {
			c.add(st.Pos, "%s: update: and delete: need id: <CEL>", what)
		}
		checkAssignments(t, st.Values, what, c)
	case st.Assert.Set():
		if st.Code == "" || !codeRe.MatchString(st.Code) {
			c.add(st.Pos, "%s: assert: needs code: (the 409's error code, lowercase letters, digits and _)", what)
		}
	}
}

func validateFieldLogic(s *Spec, r *Resource, f *Field, c *collector) {
	switch {
	case f.Compute.Set() && (f.HasDefault || f.DefaultExpr.Set() || f.Rollup != nil):
		c.add(f.Pos, "field %s: compute: replaces default, default_expr and rollup", f.Name)
	case f.DefaultExpr.Set() && f.HasDefault:
		c.add(f.Pos, "field %s: give default: or default_expr:, not both", f.Name)
	}
	if (f.Derived() || f.DefaultExpr.Set()) && !f.Stored() {
		c.add(f.Pos, "field %s: only stored fields can be computed or defaulted by CEL", f.Name)
	}
	if f.Derived() {
		f.Readonly = true // clients never write what the server computes
	}
	if f.Rollup != nil {
		validateRollup(s, r, f, c)
	}
	if len(f.Transitions) > 0 || len(f.Initial) > 0 {
		validateStates(s, f, c)
	}
	if f.Nested && !f.IsChildren() {
		c.add(f.Pos, "field %s: nested: true is for 1:N inverse relations (children created with their parent)", f.Name)
	}
}

func validateRollup(s *Spec, r *Resource, f *Field, c *collector) {
	ru := f.Rollup
	if !slices.Contains([]FieldType{TypeInteger, TypeNumber, TypeDecimal}, f.Type) {
		c.add(f.Pos, "field %s: a rollup field must be integer, number or decimal", f.Name)
	}
	of := r.Field(ru.Of)
	if of == nil || !of.IsChildren() {
		c.add(ru.Pos, "field %s: rollup of: %q must be an inverse of a to-one relation (1:N) of %s%s", f.Name, ru.Of, r.Name,
			didYouMean(ru.Of, childrenNames(r)))
		return
	}
	child := s.Resource(of.Relation.To)
	if child == nil {
		return // the relation names no resource: its own error says so, and nothing here can be checked
	}
	if ru.Where.Set() {
		validateRollupWhere(child, of, f, c)
	}
	if ru.Func == "count" {
		return
	}
	cf := child.Field(ru.Field)
	if cf == nil || !slices.Contains([]FieldType{TypeInteger, TypeNumber, TypeDecimal}, cf.Type) || !cf.Stored() {
		c.add(ru.Pos, "field %s: rollup %s: %q must be a number field of %s", f.Name, ru.Func, ru.Field, child.Name)
	} else if cf.Rollup != nil || computedFromRollup(child, cf, 0) {
		// a child's rollup changes with the grandchildren's writes, which refresh the child
		// alone (and a computed field reading it with it): this one would be left behind
		c.add(ru.Pos, "field %s: rollup %s: %s.%s is itself a rollup, or computed from one, which is not kept up to date through two levels: "+
			"aggregate a stored field of %s", f.Name, ru.Func, child.Name, ru.Field, child.Name)
	}
}

// validateRollupWhere refuses a where: reading a child field that changes without a write of
// the child, which is when rollups are refreshed: a child's own rollup or a field computed from
// one (a grandchild's write refreshes the child alone), and an optional to-one relation other
// than the parent's (a delete of its target sets it to null inside the database).
func validateRollupWhere(child *Resource, of, f *Field, c *collector) {
	for _, g := range child.Fields {
		if !namesField(f.Rollup.Where.Text, g.Name) {
			continue
		}
		switch {
		case g.Rollup != nil || computedFromRollup(child, g, 0):
			c.add(f.Rollup.Where.Pos, "field %s: rollup where: reads %s.%s, itself a rollup or computed from one, which is not kept up to date through two levels", f.Name, child.Name, g.Name)
		case g.Relation != nil && g.Relation.Kind == RelToOne && !g.Required && g.Name != of.Relation.Inverse:
			c.add(f.Rollup.Where.Pos, "field %s: rollup where: reads %s.%s, an optional relation a delete of its target sets to null without a write of the child, which the rollup would not follow", f.Name, child.Name, g.Name)
		}
	}
}

// namesField reports whether filter text names field name: a whole word, not a field of a
// path (assignee.name names assignee, not name).
func namesField(text, name string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		if (start == 0 || (!isIdentByte(text[start-1]) && text[start-1] != '.')) && (end == len(text) || !isIdentByte(text[end])) {
			return true
		}
		i = end
	}
}

// computedFromRollup reports whether f of r is computed from one of r's rollups, directly or
// through its other computed fields.
func computedFromRollup(r *Resource, f *Field, depth int) bool {
	if !f.Compute.Set() || depth > len(r.Fields) {
		return false
	}
	for _, g := range r.Fields {
		if g != f && (g.Rollup != nil || g.Compute.Set()) && ReadsWord(f.Compute.Text, "record."+g.Name) &&
			(g.Rollup != nil || computedFromRollup(r, g, depth+1)) {
			return true
		}
	}
	return false
}

// ReadsWord reports whether expression text names ref as a whole word (record.copy, not
// record.copyright).
func ReadsWord(text, ref string) bool {
	for i := strings.Index(text, ref); i >= 0; {
		end := i + len(ref)
		if end == len(text) || !isIdentByte(text[end]) {
			return true
		}
		next := strings.Index(text[end:], ref)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func validateStates(s *Spec, f *Field, c *collector) {
	if f.Type != TypeEnum {
		c.add(f.Pos, "field %s: transitions and initial are for enum fields", f.Name)
		return
	}
	check := func(pos Pos, v, what string) {
		if !slices.Contains(f.Values, v) {
			c.add(pos, "field %s: %s %q is not one of its values (%s)", f.Name, what, v, strings.Join(f.Values, ", "))
		}
	}
	for _, v := range f.Initial {
		check(f.Pos, v, "initial state")
	}
	if d, ok := f.Default.(string); ok && len(f.Initial) > 0 && slices.Contains(f.Values, d) && !slices.Contains(f.Initial, d) {
		c.add(f.Pos, "field %s: default %q is not one of its initial states (%s): every create that leaves %s out would be refused",
			f.Name, d, strings.Join(f.Initial, ", "), f.Name)
	}
	for _, t := range f.Transitions {
		for i, from := range t.From {
			if from != "*" {
				check(t.at(keyIndex("from", i)), from, "from")
			}
		}
		check(t.at("to"), t.To, "to")
		for i, role := range t.Roles {
			if !slices.Contains(s.Roles, role) {
				c.add(t.at(keyIndex("roles", i)), "field %s: transition roles: %s", f.Name, notARole(s, role))
			}
		}
	}
}

// childrenNames names r's inverses of to-one relations (1:N), what rollup of: and each: name.
func childrenNames(r *Resource) []string {
	var out []string
	for _, f := range r.Fields {
		if f.IsChildren() {
			out = append(out, f.Name)
		}
	}
	return out
}

func fieldNames(r *Resource) []string {
	out := make([]string, 0, len(r.Fields))
	for _, f := range r.Fields {
		out = append(out, f.Name)
	}
	return out
}
