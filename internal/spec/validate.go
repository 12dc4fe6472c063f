package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/value"
)

// maxIdent keeps generated names (columns with _id, join tables, indexes) under PostgreSQL's 63.
const maxIdent = 40

var identRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// reservedFields clash with system columns, list query parameters or CEL keywords.
var reservedFields = []string{
	"id", "created_at", "updated_at",
	"limit", "cursor", "page", "sort", "filter", "fields", "expand", "count",
	"in", "null", "true", "false", "as", "break", "const", "continue", "else", "for", "function",
	"if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
}

var reservedResources = []string{"auth", "openapi", "docs", "healthz", "readyz", "batch", "admin"}

var validTypes = []FieldType{TypeString, TypeText, TypeInteger, TypeNumber, TypeDecimal, TypeBoolean,
	TypeDatetime, TypeDate, TypeEnum, TypeJSON, TypeUUID, TypeEmail, TypeURL, TypeRelation, TypeFile}

func validate(s *Spec, c *collector) {
	prepareAuth(s, c)
	s.byName = make(map[string]*Resource, len(s.Resources))
	for _, r := range s.Resources {
		checkIdent(c, r.Pos, "resource", r.Name)
		if slices.Contains(reservedResources, r.Name) || (strings.HasPrefix(r.Name, "kiln_") || strings.HasPrefix(r.Name, "river_")) {
			c.add(r.Pos, "resource name %q is reserved", r.Name)
		}
		s.byName[r.Name] = r
		r.byName = make(map[string]*Field, len(r.Fields))
		for _, f := range r.Fields {
			r.byName[f.Name] = f
		}
	}
	markManyInverses(s)
	for _, r := range s.Resources {
		validateResource(s, r, c)
		validateTriggers(s, r, c)
	}
	validateJobs(s, c)
	validateSchedules(s, c)
	validateMail(s, c)
	validateStorage(s, c)
	validatePayments(s, c)
	validateWebhooks(s, c)
}

// markManyInverses sets Relation.Many on the inverses of to-many fields, before any check
// that tells them from 1:N inverses runs.
func markManyInverses(s *Spec) {
	for _, r := range s.Resources {
		for _, f := range r.Fields {
			if !f.IsInverse() || s.byName[f.Relation.To] == nil {
				continue
			}
			back := s.byName[f.Relation.To].byName[f.Relation.Inverse]
			f.Relation.Many = back != nil && back.IsToMany()
		}
	}
}

func checkIdent(c *collector, pos Pos, what, name string) {
	switch {
	case !identRe.MatchString(name):
		c.add(pos, "%s name %q must be lowercase letters, digits and _ and start with a letter", what, name)
	case len(name) > maxIdent:
		c.add(pos, "%s name %q is longer than %d characters", what, name, maxIdent)
	}
}

func validateResource(s *Spec, r *Resource, c *collector) {
	if len(r.Fields) == 0 {
		c.add(r.Pos, "resource %s has no fields", r.Name)
	}
	columns := map[string]string{}
	for _, f := range r.Fields {
		checkIdent(c, f.Pos, "field", f.Name)
		if slices.Contains(reservedFields, f.Name) || strings.HasPrefix(f.Name, "kiln_") {
			c.add(f.Pos, "field name %q is reserved", f.Name)
		}
		validateField(s, r, f, c)
		if col := f.Column(); col != "" {
			if other, dup := columns[col]; dup {
				c.add(f.Pos, "field %s uses column %s, already used by field %s", f.Name, col, other)
			}
			columns[col] = f.Name
		}
	}
	for _, ix := range r.Indexes {
		validateIndex(r, ix, c)
	}
	validateAccess(s, r, c)
	validateLogic(s, r, c)
}

func validateField(s *Spec, r *Resource, f *Field, c *collector) {
	if f.Type == "" {
		c.add(f.Pos, "field %s has no type", f.Name)
		return
	}
	if f.System && f.Type == TypeEnum && len(f.Values) == 0 {
		return // the account's role in a spec of no roles: "auth needs roles" says it
	}
	if !containsType(f.Type) {
		c.add(f.Pos, "field %s: unknown type %q%s", f.Name, f.Type, suggest(string(f.Type), typeNames()))
		return
	}
	validateFile(s, f, c)
	if f.Type == TypeRelation {
		validateRelation(s, r, f, c)
		return
	}
	if f.AllowHidden {
		c.add(f.Pos, "field %s: allow_hidden is for relation fields", f.Name)
	}
	switch f.Type {
	case TypeDecimal:
		if !f.precisionSet {
			f.Precision = value.MaxPrecision
		}
		if !f.scaleSet {
			f.Scale = 2
		}
		if f.Precision < 1 || f.Precision > value.MaxPrecision || f.Scale < 0 || f.Scale > f.Precision {
			c.add(f.Pos, "field %s: decimal precision must be 1..%d and scale 0..precision", f.Name, value.MaxPrecision)
			validateOptions(f, c, false) // its default and example cannot be checked against a precision that is not there
			return
		}
	case TypeEnum:
		if len(f.Values) == 0 {
			c.add(f.Pos, "field %s: enum needs values: [...]", f.Name)
		}
	}
	validateOptions(f, c, true)
}

// minMaxHint says what bounds a field of a type min/max do not apply to.
func minMaxHint(f *Field) string {
	switch {
	case f.Type == TypeDatetime:
		return fmt.Sprintf(`; bound a datetime with a rule, e.g. check: 'record.%s >= timestamp("2024-01-01T00:00:00Z")' `+
			"(or > now, or > record.other_datetime) with fields: [%s]", f.Name, f.Name)
	case f.Type == TypeDate:
		return fmt.Sprintf(`; bound a date with a rule, e.g. check: 'record.%s >= "2024-01-01"' with fields: [%s]`, f.Name, f.Name)
	case isTextual(f.Type):
		return "; use min_length/max_length for text"
	}
	return ""
}

// validateOptions checks f's options; values (its default and example) only when checkValues.
func validateOptions(f *Field, c *collector, checkValues bool) {
	numeric := f.Type == TypeInteger || f.Type == TypeNumber || f.Type == TypeDecimal
	if (f.Min != nil || f.Max != nil) && !numeric {
		c.add(f.Pos, "field %s: min/max apply to integer, number and decimal%s", f.Name, minMaxHint(f))
	}
	if f.Min != nil && f.Max != nil {
		lo, _ := strconv.ParseFloat(*f.Min, 64)
		hi, _ := strconv.ParseFloat(*f.Max, 64)
		if lo > hi {
			c.add(f.Pos, "field %s: min %s is above max %s", f.Name, *f.Min, *f.Max)
		}
	}
	if f.MinLength != nil && f.MaxLength != nil && *f.MinLength > *f.MaxLength {
		c.add(f.Pos, "field %s: min_length %d is above max_length %d", f.Name, *f.MinLength, *f.MaxLength)
	}
	if f.Type != TypeDecimal && (f.precisionSet || f.scaleSet) {
		c.add(f.Pos, "field %s: precision and scale apply to decimal fields", f.Name)
	}
	textual := isTextual(f.Type)
	if (f.MinLength != nil || f.MaxLength != nil || f.Pattern != "") && !textual {
		c.add(f.Pos, "field %s: min_length, max_length and pattern apply to text types", f.Name)
	}
	if f.Pattern != "" {
		if _, err := regexp.Compile(f.Pattern); err != nil {
			c.add(f.Pos, "field %s: pattern does not compile: %v", f.Name, err)
		}
	}
	if len(f.Values) > 0 && f.Type != TypeEnum {
		c.add(f.Pos, "field %s: values apply to enum fields only", f.Name)
	}
	for i, v := range f.Values {
		if slices.Contains(f.Values[:i], v) {
			c.add(f.Pos, "field %s: enum value %q is listed twice", f.Name, v)
		}
	}
	if !checkValues {
		return
	}
	if f.HasDefault && f.Default != nil && f.Default != "auth.id" { // the account's id, filled in on create
		if err := checkValue(f, f.Default.(string)); err != "" {
			c.add(f.Pos, "field %s: default %q %s", f.Name, f.Default, err)
		}
	}
	if f.Example != nil {
		validateExample(f, c)
	}
}

func isTextual(t FieldType) bool {
	switch t {
	case TypeString, TypeText, TypeEmail, TypeURL:
		return true
	}
	return false
}

func validateRelation(s *Spec, r *Resource, f *Field, c *collector) {
	rel := f.Relation
	if rel == nil {
		c.add(f.Pos, "field %s: relation needs to: <resource>", f.Name)
		return
	}
	target := s.byName[rel.To]
	if target == nil {
		c.add(f.Pos, "field %s: relation to unknown resource %q%s", f.Name, rel.To, suggest(rel.To, resourceNames(s)))
		return
	}
	if rel.Kind != RelToOne && (f.Unique || f.Required || f.HasDefault) {
		c.add(f.Pos, "field %s: unique, required and default apply to to-one relations only", f.Name)
	}
	if rel.Kind == RelToOne && f.HasDefault && f.Default != nil && (f.Default != "auth.id" || s.Auth == nil) {
		c.add(f.Pos, "field %s: a relation's default can only be auth.id (the signed-in account), with an auth block", f.Name)
	} else if rel.Kind == RelToOne && f.Default == "auth.id" && s.Auth != nil && s.Auth.Account != "" && rel.To != s.Auth.Account {
		c.add(f.Pos, "field %s: default auth.id is the signed-in account's id, so the relation must point to the account resource %s, not %s",
			f.Name, s.Auth.Account, rel.To)
	}
	if rel.Kind == RelInverse {
		back := target.byName[rel.Inverse]
		if back != nil && back.Relation != nil && back.Relation.Kind != RelInverse && s.byName[back.Relation.To] == nil {
			return // back points to an unknown resource: its own error says so, and this one would only follow from it
		}
		if back == nil || back.Relation == nil || back.Relation.Kind == RelInverse || back.Relation.To != r.Name {
			c.add(f.Pos, "field %s: inverse %q must be a to-one or many: true relation on %s pointing to %s", f.Name, rel.Inverse, rel.To, r.Name)
			return
		}
	}
}

func validateIndex(r *Resource, ix *Index, c *collector) {
	if len(ix.Fields) == 0 {
		c.add(ix.Pos, "index on %s needs fields: [...]", r.Name)
	}
	for _, name := range ix.Fields {
		f := r.byName[name]
		if f == nil && !slices.Contains(SystemFields, name) {
			c.add(ix.Pos, "index on %s: unknown field %q", r.Name, name)
		} else if f != nil && !f.Stored() {
			c.add(ix.Pos, "index on %s: field %q is not a column (to-many and inverse relations cannot be indexed)", r.Name, name)
		}
	}
	if ix.Name != "" {
		checkIdent(c, ix.Pos, "index", ix.Name)
	}
}

func containsType(t FieldType) bool {
	for _, v := range validTypes {
		if v == t {
			return true
		}
	}
	return false
}

func typeNames() []string {
	out := make([]string, len(validTypes))
	for i, t := range validTypes {
		out[i] = string(t)
	}
	return out
}

func resourceNames(s *Spec) []string {
	out := make([]string, 0, len(s.Resources))
	for _, r := range s.Resources {
		out = append(out, r.Name)
	}
	return out
}
