// Package jsonschema validates JSON values against JSON Schema 2020-12, limited to the
// keywords Kiln's OpenAPI generator emits. A keyword it does not know is an error, never a
// silent pass, so a change to the generator cannot weaken the checks unnoticed.
package jsonschema

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Config tunes a Validator.
type Config struct {
	// MaxErrors caps the problems one Validate reports (the rest are counted); default 10.
	MaxErrors int
}

func (c Config) withDefaults() Config {
	c.MaxErrors = cmp.Or(c.MaxErrors, 10)
	return c
}

func (c Config) validate() error {
	if c.MaxErrors < 1 {
		return fmt.Errorf("jsonschema: MaxErrors %d: want at least 1", c.MaxErrors)
	}
	return nil
}

// Validator checks values against the schemas of one document. A $ref is resolved when a
// value reaches it, inside that document, so schemas that refer to each other in a cycle
// (a note's folder, a folder's notes) cost nothing until data walks through them.
type Validator struct {
	cfg      Config
	root     any // the decoded document $refs point into
	mu       sync.Mutex
	patterns map[string]*regexp.Regexp // compiled pattern keywords, under mu
}

// New returns a Validator whose $refs resolve in root, a document decoded with
// json.Decoder.UseNumber (numbers as json.Number).
func New(cfg Config, root any) (*Validator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Validator{cfg: cfg, root: root, patterns: map[string]*regexp.Regexp{}}, nil
}

// Validate checks value (decoded with UseNumber) against schema, which lies at loc in the
// document (a fragment such as "#/components/schemas/Products", used in messages). It returns
// nil, *Error listing the value's problems, or *SchemaError when the schema is one this
// package cannot judge (an unknown keyword, a dangling $ref).
func (v *Validator) Validate(schema any, loc string, value any) error {
	r := &run{v: v, active: map[string]bool{}}
	r.schema(schema, loc, value, "")
	if r.fatal != nil {
		return r.fatal
	}
	if len(r.problems) == 0 {
		return nil
	}
	return &Error{Problems: r.problems, More: r.more}
}

// Resolve returns the value a local reference ("#/components/schemas/Products") names.
func (v *Validator) Resolve(ref string) (any, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q: only references inside the document (#/…) are supported", ref)
	}
	cur := v.root
	if frag == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// pattern compiles a pattern keyword once.
func (v *Validator) pattern(expr string) (*regexp.Regexp, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if re, ok := v.patterns[expr]; ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	v.patterns[expr] = re
	return re, nil
}

// run is one validation: the problems found so far and the $refs being followed.
type run struct {
	v        *Validator
	problems []Problem
	more     int   // problems found beyond MaxErrors
	fatal    error // a *SchemaError: stops the run
	active   map[string]bool
}

func (r *run) fail(ptr, loc, format string, args ...any) {
	if len(r.problems) >= r.v.cfg.MaxErrors {
		r.more++
		return
	}
	r.problems = append(r.problems, Problem{Pointer: ptr, Schema: loc, Message: fmt.Sprintf(format, args...)})
}

func (r *run) schemaError(loc, format string, args ...any) {
	if r.fatal == nil {
		r.fatal = &SchemaError{Location: loc, Message: fmt.Sprintf(format, args...)}
	}
}

// failed reports whether value fails schema, without recording its problems here; a schema
// error still stops the run.
func (r *run) failed(schema any, loc string, val any, ptr string) (bool, []Problem) {
	sub := &run{v: r.v, active: r.active}
	sub.schema(schema, loc, val, ptr)
	if sub.fatal != nil {
		r.fatal = cmp.Or(r.fatal, sub.fatal)
	}
	return len(sub.problems) > 0, sub.problems
}

// schema checks val against s, keyword by keyword in a fixed order (stable messages).
func (r *run) schema(s any, loc string, val any, ptr string) {
	if r.fatal != nil {
		return
	}
	switch s := s.(type) {
	case bool:
		if !s {
			r.fail(ptr, loc, "no value is allowed here (schema false)")
		}
	case map[string]any:
		for _, k := range sortedKeys(s) {
			if !r.keyword(s, k, loc, val, ptr) {
				r.schemaError(loc+"/"+escape(k), "unknown keyword %q: the response check does not know it (teach internal/jsonschema)", k)
			}
			if r.fatal != nil {
				return
			}
		}
	default:
		r.schemaError(loc, "a schema must be an object or a boolean, got %s", kindOf(s))
	}
}

// escape makes a name one token of a JSON pointer.
func escape(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}
