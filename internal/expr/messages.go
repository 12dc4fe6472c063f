package expr

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/kiln-dev/kiln/internal/spec"
)

// CEL's checker names types as CEL does (wrapper(double), google.protobuf.Timestamp) and
// operators as its functions (_>_, @in). A filter's author wrote neither: plainIssues says the
// same in the spec's words, and names a field a filter cannot use as such instead of CEL's
// "undeclared reference".

var (
	overloadRE   = regexp.MustCompile(`found no matching overload for '([^']+)' applied to '(?:([^'(]*(?:\([^')]*\))?)\.)?\((.*?)\)'`)
	undeclaredRE = regexp.MustCompile(`undeclared reference to '([A-Za-z_][A-Za-z0-9_]*)'(?: \(did you mean '[^']*'(?:,? or '[^']*'|, '[^']*')*\?\))?`)
	selectionRE  = regexp.MustCompile(`(?:at (\d+):(\d+): )?type '([^']+)' does not support field selection`)
)

// unfilterable says why a field a filter may not use is not there; "" for a field it may
// use or must not learn of (hidden fields stay unknown).
func unfilterable(f *spec.Field) string {
	switch {
	case f.Hidden:
		return ""
	case f.Type == spec.TypeJSON:
		return f.Name + " is a json field: filters cannot compare it"
	case f.Type == spec.TypeFile:
		return f.Name + " is a file field: filters cannot compare it"
	case f.IsInverse():
		return f.Name + " lists the " + f.Relation.To + " records that point here: filter " + f.Relation.To + " by its relation instead"
	}
	return ""
}

// plainIssues rewrites CEL's messages (already cleaned) of the filter src in the spec's words;
// why names the fields a filter cannot use, rels the to-one relations (by field name).
func plainIssues(src, msg string, why map[string]string, rels map[string]*spec.Field) string {
	msg = undeclaredRE.ReplaceAllStringFunc(msg, func(m string) string {
		if reason := why[undeclaredRE.FindStringSubmatch(m)[1]]; reason != "" {
			return reason
		}
		return m
	})
	msg = selectionRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := selectionRE.FindStringSubmatch(m)
		at := ""
		if sub[1] != "" {
			at = "at " + sub[1] + ":" + sub[2] + ": "
		}
		if rel := rels[identBefore(src, sub[1], sub[2])]; rel != nil {
			return fmt.Sprintf("%s%s is a relation: a filter compares this resource's own fields, a relation by its id "+
				"(%s == \"<id>\"); to filter by what the %s record holds, list %s with that filter and use their ids",
				at, rel.Name, rel.Name, rel.Relation.To, rel.Relation.To)
		}
		return at + typeName(sub[3]) + " has no fields to select: a filter compares " +
			"this resource's own fields (a relation by its id: author == \"<id>\")"
	})
	return overloadRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := overloadRE.FindStringSubmatch(m)
		op := strings.Trim(sub[1], "_@")
		if name, ok := operatorNames[op]; ok {
			op = name
		}
		var kinds []string
		for _, t := range splitTypes(sub[3]) {
			kinds = append(kinds, typeName(t))
		}
		if sub[2] != "" { // a method: text.startsWith(1)
			return fmt.Sprintf("%s cannot be applied to %s with %s", op, typeName(sub[2]), strings.Join(kinds, " and "))
		}
		return fmt.Sprintf("%s cannot be applied to %s", op, strings.Join(kinds, " and "))
	})
}

// logicOnlyFuncs are the functions of business rules (rules:, defaults, computed fields) an
// access rule has not: it becomes a SQL condition of every read, and they read other records
// one at a time.
var logicOnlyFuncs = map[string]string{
	"get": "get() reads a record in business rules (rules:, default_expr, computed fields), not in access rules, " +
		"which become SQL conditions of every list: follow a to-one relation (record.project.org), or tie the caller's " +
		"account with exists('users', 'id == auth.id && org == record.org')",
	"count": "count() counts records in business rules (rules:), not in access rules: use exists() (or !exists()) for another record",
}

// logicOnly rewrites CEL's "undeclared reference" to a function of business rules in an
// access rule (with its misleading "did you mean 'getDate'") to say what to write instead.
func logicOnly(msg string) string {
	return undeclaredRE.ReplaceAllStringFunc(msg, func(m string) string {
		if hint := logicOnlyFuncs[undeclaredRE.FindStringSubmatch(m)[1]]; hint != "" {
			return hint
		}
		return m
	})
}

// operatorNames are CEL's operator functions a filter's author wrote otherwise (after the
// outer _ and @ are trimmed).
var operatorNames = map[string]string{"[_]": "indexing", "?_:": "the conditional ?:"}

// typeNames are CEL's scalar types as a filter's author knows them.
var typeNames = map[string]string{"double": "a number", "int": "an integer", "uint": "an integer", "string": "text",
	"bool": "a boolean", "google.protobuf.Timestamp": "a timestamp", "timestamp": "a timestamp",
	"google.protobuf.Duration": "a duration", "duration": "a duration", "null_type": "null", "bytes": "bytes",
	"dyn": "a value"}

// splitTypes splits CEL's "(a, list(b), map(c, d))" argument list at its top-level commas.
func splitTypes(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// typeName is a CEL type as a filter's author knows it.
func typeName(t string) string {
	if inner, ok := strings.CutPrefix(t, "wrapper("); ok {
		t = strings.TrimSuffix(inner, ")")
	}
	if inner, ok := strings.CutPrefix(t, "list("); ok {
		return "a list of " + strings.TrimPrefix(typeName(strings.TrimSuffix(inner, ")")), "a ")
	}
	if n, ok := typeNames[t]; ok {
		return n
	}
	return t
}

// identBefore is the identifier that ends just before the 1-based line:column of src (where
// CEL places a selection: the dot); "" when there is none or the position does not parse.
func identBefore(src, line, col string) string {
	l, errL := strconv.Atoi(line)
	c, errC := strconv.Atoi(col)
	lines := strings.Split(src, "\n")
	if errL != nil || errC != nil || l < 1 || l > len(lines) {
		return ""
	}
	runes := []rune(lines[l-1])
	if c < 1 {
		return ""
	}
	end := min(c-1, len(runes))
	for end > 0 && unicode.IsSpace(runes[end-1]) { // category . name
		end--
	}
	start := end
	for start > 0 && (unicode.IsLetter(runes[start-1]) || unicode.IsDigit(runes[start-1]) || runes[start-1] == '_') {
		start--
	}
	return string(runes[start:end])
}
