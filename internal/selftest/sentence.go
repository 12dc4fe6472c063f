package selftest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Check is one database check, from a sentence or a structured entry.
type Check struct {
	Resource string         // a resource name as written ("Product", "products")
	Where    map[string]any // field → value the records must have
	Exists   *bool          // exists / does not exist
	Count    *int           // exactly this many records
	Field    string         // "stored as": the field of the record this case wrote
	Value    any
	Text     string // the original sentence, for reports
}

// ParseSentence reads the plain-English database checks:
//
//	<Resource> with <field> <value> exists
//	<Resource> with <field> <value> does not exist
//	<N> <resources> with <field> <value>
//	<Field> stored as <value>
//
// Values are "quoted strings", numbers, true, false or null. A sentence outside the grammar is
// an error that says which words were expected.
func ParseSentence(s string) (*Check, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	c := &Check{Text: s}
	switch {
	case len(toks) >= 3 && eq(toks[len(toks)-3], "stored") && eq(toks[len(toks)-2], "as"):
		c.Field = fieldName(toks[:len(toks)-3])
		c.Value = toks[len(toks)-1].value()
		if c.Field == "" {
			return nil, expected(s, "a field name before \"stored as\"")
		}
		return c, nil
	case len(toks) >= 4 && toks[0].isNumber():
		n, _ := strconv.Atoi(toks[0].text)
		c.Count = &n
		return c, c.parseWith(s, toks[1:], false)
	}
	return c, c.parseWith(s, toks, true)
}

func (c *Check) parseWith(s string, toks []token, needVerb bool) error {
	with := -1
	for i, t := range toks {
		if eq(t, "with") {
			with = i
			break
		}
	}
	if with < 1 {
		return expected(s, "<Resource> with <field> <value> exists | does not exist, <N> <resources> with <field> <value>, or <Field> stored as <value>")
	}
	c.Resource = fieldName(toks[:with])
	if c.Resource == "" {
		return expected(s, "a resource name (words, not quoted) before \"with\"")
	}
	rest := toks[with+1:]
	if needVerb {
		var verbLen int
		switch {
		case len(rest) >= 1 && eq(rest[len(rest)-1], "exists"):
			verbLen, c.Exists = 1, ptr(true)
		case len(rest) >= 3 && eq(rest[len(rest)-3], "does") && eq(rest[len(rest)-2], "not") && eq(rest[len(rest)-1], "exist"):
			verbLen, c.Exists = 3, ptr(false)
		default:
			return expected(s, "\"exists\" or \"does not exist\" at the end")
		}
		rest = rest[:len(rest)-verbLen]
	}
	if len(rest) < 2 {
		return expected(s, "a field and a value after \"with\"")
	}
	field := fieldName(rest[:len(rest)-1])
	if field == "" {
		return expected(s, "a field name (words, not quoted) after \"with\"")
	}
	c.Where = map[string]any{field: rest[len(rest)-1].value()}
	return nil
}

func ptr[T any](v T) *T { return &v }

type token struct {
	text   string
	quoted bool
}

func (t token) isNumber() bool {
	if t.quoted {
		return false
	}
	_, err := strconv.ParseFloat(t.text, 64)
	return err == nil
}

// value is the token as the JSON-like value a check compares with.
func (t token) value() any {
	switch {
	case t.quoted:
		return t.text
	case t.text == "null":
		return nil
	case t.text == "true" || t.text == "false":
		return t.text == "true"
	}
	return t.text // numbers stay text so decimals compare exactly
}

func eq(t token, word string) bool { return !t.quoted && strings.EqualFold(t.text, word) }

func joinWords(toks []token) string {
	words := make([]string, len(toks))
	for i, t := range toks {
		words[i] = t.text
	}
	return strings.Join(words, "_")
}

// fieldName is the name the words toks spell, lower case and joined by "_"; "" when a token
// is quoted or empty (a name is words, never a quoted value).
func fieldName(toks []token) string {
	for _, t := range toks {
		if t.quoted || t.text == "" {
			return ""
		}
	}
	return strings.ToLower(joinWords(toks))
}

func tokenize(s string) ([]token, error) {
	var out []token
	rs := []rune(strings.TrimSpace(s))
	for i := 0; i < len(rs); {
		switch {
		case unicode.IsSpace(rs[i]):
			i++
		case rs[i] == '"':
			j := i + 1
			var b strings.Builder
			for j < len(rs) && rs[j] != '"' {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("database_check %q: a quote is not closed", s)
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '"' {
				j++
			}
			out = append(out, token{text: string(rs[i:j])})
			i = j
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("database_check is empty")
	}
	return out, nil
}

func expected(s, what string) error {
	return fmt.Errorf("database_check %q: expected %s", s, what)
}
