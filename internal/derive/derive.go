// Package derive writes Kiln's conformance suite from a spec: for every resource and action,
// a YAML file in the `kiln test` format with the happy path on valid generated data, one
// violation per constraint, malformed and oversized bodies, unknown fields, credentials,
// roles, other accounts' records, unknown ids, cursor pagination and filters and sorts
// compared with the same query evaluated in memory. Users run the files as they are or
// commit and edit them.
package derive

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/example"
	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
)

// File is one generated test file.
type File struct {
	Name string // e.g. products.create.test.yaml
	Data []byte
}

// Suite is what Generate derived, and what it could not derive and why.
type Suite struct {
	Files []File
	Gaps  []string
	// Uncovered are rules the suite does not break: they declare no violated_by (the files
	// still run every rule on their valid cases).
	Uncovered []string
	// Unsent are the endpoints of a resource the suite sends nothing to: a payable record's
	// pay and refund (they reach Stripe) and its file fields' uploads — write tests of your own.
	Unsent []string
}

// unknownID is a well-formed id no record has.
const unknownID = "0192f0a0-0000-7000-8000-00000000dead"

// Generate derives the suite from a loaded spec (its access rules are compiled here).
func Generate(s *spec.Spec) (*Suite, error) {
	var rules *expr.Rules
	if s.Auth != nil {
		var err error
		if rules, err = expr.CompileRules(s); err != nil {
			return nil, err
		}
	}
	g := &gen{s: s, rules: rules, base: s.Server.BasePath}
	g.findUnmade()
	g.findUnsent()
	suite := &Suite{}
	for _, r := range example.CreationOrder(s) {
		for _, action := range spec.Actions {
			f, gap := g.file(r, action)
			gap = g.withOwnGaps(gap)
			g.ownAccounts(f)
			if gap != "" {
				suite.Gaps = append(suite.Gaps, fmt.Sprintf("%s %s: %s", r.Name, action, gap))
			}
			if err := suite.add(s, f); err != nil {
				return nil, err
			}
		}
		for _, a := range r.Actions {
			f, gap := g.actionFile(r, a)
			g.ownAccounts(f)
			if gap != "" {
				suite.Gaps = append(suite.Gaps, fmt.Sprintf("%s action %s: %s", r.Name, a.Name, gap))
			}
			if err := suite.add(s, f); err != nil {
				return nil, err
			}
		}
		for _, gap := range g.gaps {
			suite.Uncovered = append(suite.Uncovered, r.Name+" "+gap)
		}
		suite.Unsent = append(suite.Unsent, unsent(g.base, r)...)
		g.gaps = nil
	}
	return suite, nil
}

// withOwnGaps is gap with the current file's ownGaps after it, which it clears.
func (g *gen) withOwnGaps(gap string) string {
	all := append([]string{gap}, g.ownGaps...)
	g.ownGaps = nil
	return strings.Join(slices.DeleteFunc(all, func(s string) bool { return s == "" }), "; ")
}

func (suite *Suite) add(s *spec.Spec, f *tfile) error {
	if f == nil {
		return nil
	}
	data, err := f.marshal(s)
	if err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	suite.Files = append(suite.Files, File{Name: f.name, Data: data})
	return nil
}

// gen holds what every file builder needs.
type gen struct {
	s     *spec.Spec
	rules *expr.Rules
	base  string
	gaps  []string // what the current resource's files could not derive
	// ownGaps are the own-record cases the current file could not derive (othersOnly)
	ownGaps []string
	// unmade holds the resources whose records cannot be made, with why (links.go)
	unmade map[string]string
	// unsent holds the optional relations to accounts bodies leave out (accountreads.go)
	unsent map[*spec.Field]bool
}

func (g *gen) file(r *spec.Resource, action spec.Action) (*tfile, string) {
	switch action {
	case spec.ActionCreate:
		return g.createFile(r)
	case spec.ActionView:
		return g.viewFile(r)
	case spec.ActionList:
		return g.listFile(r)
	case spec.ActionUpdate:
		return g.updateFile(r)
	}
	return g.deleteFile(r)
}

// tfile is a test file being built.
type tfile struct {
	name, title string
	endpoint    string
	as          string
	cases       []*tcase
}

// tcase is one case; empty parts are inherited from the file (endpoint, default headers).
type tcase struct {
	name, comment string
	as            string
	method, path  string
	headers       yaml.MapSlice
	body          any
	rawBody       *string
	bodySize      int
	expect        *expect
}

func (f *tfile) add(c *tcase) *tcase {
	f.cases = append(f.cases, c)
	return c
}

// marshal writes the file: a header comment, endpoint, role, default headers and the cases,
// each with a comment saying what it shows.
func (f *tfile) marshal(s *spec.Spec) ([]byte, error) {
	cases := yaml.MapSlice{}
	comments := yaml.CommentMap{}
	for _, c := range f.cases {
		cases = append(cases, yaml.MapItem{Key: c.name, Value: c.yaml(f)})
		if c.comment != "" {
			comments["$.test_cases."+c.name] = []*yaml.Comment{yaml.HeadComment(" " + c.comment)}
		}
	}
	doc := yaml.MapSlice{{Key: "endpoint", Value: f.endpoint}}
	if f.as != "" {
		doc = append(doc, yaml.MapItem{Key: "as", Value: f.as})
	}
	headers := yaml.MapSlice{{Key: "Content-Type", Value: "application/json"}}
	if s.Auth != nil {
		headers = append(yaml.MapSlice{{Key: "Authorization", Value: "Bearer {valid_token}"}}, headers...)
	}
	doc = append(doc, yaml.MapItem{Key: "defaults", Value: yaml.MapSlice{{Key: "request", Value: yaml.MapSlice{{Key: "headers", Value: headers}}}}},
		yaml.MapItem{Key: "test_cases", Value: cases})
	out, err := yaml.MarshalWithOptions(doc, yaml.WithComment(comments), yaml.IndentSequence(true))
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# %s\n# Derived from %s by `kiln test --generate`; edit freely, or regenerate after changing the spec.\n\n",
		f.title, baseName(s.File))
	return append([]byte(head), out...), nil
}

func (c *tcase) yaml(f *tfile) yaml.MapSlice {
	out := yaml.MapSlice{}
	if c.as != "" {
		out = append(out, yaml.MapItem{Key: "as", Value: c.as})
	}
	req := yaml.MapSlice{}
	fm, fp, _ := strings.Cut(f.endpoint, " ")
	if c.method != "" && c.method != fm {
		req = append(req, yaml.MapItem{Key: "method", Value: c.method})
	}
	if c.path != "" && c.path != fp {
		req = append(req, yaml.MapItem{Key: "path", Value: c.path})
	}
	if len(c.headers) > 0 {
		req = append(req, yaml.MapItem{Key: "headers", Value: c.headers})
	}
	switch {
	case c.rawBody != nil:
		req = append(req, yaml.MapItem{Key: "raw_body", Value: *c.rawBody})
	case c.bodySize > 0:
		req = append(req, yaml.MapItem{Key: "body_size", Value: c.bodySize})
	case c.body != nil:
		req = append(req, yaml.MapItem{Key: "body", Value: c.body})
	}
	if len(req) > 0 {
		out = append(out, yaml.MapItem{Key: "request", Value: req})
	}
	return append(out, yaml.MapItem{Key: "expected", Value: c.expect.yaml()})
}

func baseName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}

// unsent names r's endpoints the suite sends nothing to.
func unsent(base string, r *spec.Resource) []string {
	var out []string
	item := base + "/" + r.Name + "/{id}"
	if r.Payable != nil {
		what := "POST " + item + "/pay"
		if len(r.Payable.Refund) > 0 {
			what += " and /refund"
		}
		out = append(out, what+" (a payment reaches Stripe)")
	}
	for _, f := range r.Fields {
		if f.Type == spec.TypeFile {
			out = append(out, "POST and DELETE "+item+"/files/"+f.Name+" (an upload sends a file, not JSON)")
		}
	}
	return out
}
