package kiln

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/example"
	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Rows computes the ids a list request (a path with its query) should return to role, across
// all its pages, without the code the API runs: every stored record is read, the role's
// access rule, the filter and the field=value parameters are evaluated in memory, and the
// rows are sorted by the request's sort, id breaking ties. Tests compare the API's answer
// with it.
func (e *TestEnv) Rows(ctx context.Context, role, pathAndQuery string) ([]string, error) {
	u, err := url.Parse(pathAndQuery)
	if err != nil {
		return nil, err
	}
	resName, ok := e.ResourceOfPath(u.Path)
	if !ok {
		return nil, fmt.Errorf("%s names no resource", u.Path)
	}
	r := e.app.Spec.Resource(resName)
	lq, err := readListQuery(r, u.Query())
	if err != nil {
		return nil, err
	}
	rowRule, err := e.ruleFor(ctx, role, resName, spec.ActionList)
	if err != nil {
		return nil, err
	}
	kept, err := e.matching(ctx, r, lq.conds, rowRule)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(kept, func(a, b *store.Record) int { return compareRecords(r, lq.sorts, a, b) })
	ids := make([]string, len(kept))
	for i, rec := range kept {
		ids[i] = rec.ID
	}
	return ids, nil
}

// matching reads every record of r and keeps those the rule (nil: every record) and each
// CEL condition hold for, evaluated by expr's oracle.
func (e *TestEnv) matching(ctx context.Context, r *spec.Resource, conds []string, rule func(func(string) any) (bool, error)) ([]*store.Record, error) {
	recs, err := e.allRecords(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	oracle, err := expr.NewFilter(r)
	if err != nil {
		return nil, err
	}
	var evalErr error
	kept := slices.DeleteFunc(recs, func(rec *store.Record) bool {
		get := e.pathGetter(ctx, r, fieldGetter(r, rec))
		if rule != nil {
			visible, err := rule(get)
			if evalErr = errors.Join(evalErr, err); !visible {
				return true
			}
		}
		for _, c := range conds {
			ok, err := oracle.Interpret(c, get)
			if evalErr = errors.Join(evalErr, err); !ok {
				return true
			}
		}
		return false
	})
	return kept, evalErr
}

// ruleFor decides, per record, whether the action's rule lets the role's test account ("" is
// anonymous) reach it: read from the rule's CEL by expr's oracle (Rule.Holds), not from the
// row condition the API renders as SQL. A role the rule shuts out reaches no record; nil
// (every record) without an auth block.
func (e *TestEnv) ruleFor(ctx context.Context, role, resName string, action spec.Action) (func(get func(string) any) (bool, error), error) {
	rules, err := e.compiledRules()
	if err != nil || rules == nil {
		return nil, err
	}
	var who *expr.Auth
	if role != "" {
		id, err := e.account(ctx, role)
		if err != nil {
			return nil, err
		}
		who = &expr.Auth{ID: id, Role: roleOf(role), Roles: []string{roleOf(role)}}
	}
	rule := rules.Rule(resName, action)
	if rule == nil {
		return func(func(string) any) (bool, error) { return false, nil }, nil
	}
	others := e.othersReader(ctx)
	return func(get func(string) any) (bool, error) { return rule.HoldsAmong(who, get, others) }, nil
}

// othersReader gives a rule's exists() every live record of a resource, read once per call
// of the function it returns, whatever their access rules.
func (e *TestEnv) othersReader(ctx context.Context) expr.Others {
	read := map[string][]func(string) any{}
	return func(resName string) ([]func(string) any, error) {
		if got, ok := read[resName]; ok {
			return got, nil
		}
		r := e.app.Spec.Resource(resName)
		recs, err := e.allRecords(ctx, resName)
		if err != nil {
			return nil, err
		}
		gets := make([]func(string) any, len(recs))
		for i, rec := range recs {
			gets[i] = e.pathGetter(ctx, r, fieldGetter(r, rec))
		}
		read[resName] = gets
		return gets, nil
	}
}

// compiledRules are the spec's access rules, compiled once; nil without an auth block.
func (e *TestEnv) compiledRules() (*expr.Rules, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rules == nil && e.app.Spec.Auth != nil {
		rules, err := expr.CompileRules(e.app.Spec)
		if err != nil {
			return nil, err
		}
		e.rules = rules
	}
	return e.rules, nil
}

// allRecords reads every record of a resource in one query, whatever its access rules,
// with the ids of its N:M inverses (which records do not carry) read by raw SQL, so that
// membership filters on them can be evaluated in memory.
func (e *TestEnv) allRecords(ctx context.Context, resName string) ([]*store.Record, error) {
	reader := e.app.Store.Reader()
	n, err := reader.Count(ctx, resName, nil)
	if err != nil {
		return nil, err
	}
	res, err := reader.List(ctx, resName, query.List{Limit: int(n) + 1})
	if err != nil {
		return nil, err
	}
	r := e.app.Spec.Resource(resName)
	ids := make([]string, len(res.Records))
	for i, rec := range res.Records {
		ids[i] = rec.ID
	}
	for i, f := range r.Fields {
		if !f.IsInverse() || !f.Relation.Many {
			continue
		}
		links, err := e.links(ctx, resName, f.Name, ids)
		if err != nil {
			return nil, err
		}
		for _, rec := range res.Records {
			rec.Values[i] = links[rec.ID]
		}
	}
	return res.Records, nil
}

// pathGetter extends get to "relation.field" names (rules that follow to-one relations): the
// related record is read by id, whatever its access rules; a missing one has no fields.
func (e *TestEnv) pathGetter(ctx context.Context, r *spec.Resource, get func(string) any) func(string) any {
	return func(name string) any {
		rel, rest, ok := strings.Cut(name, ".")
		if !ok {
			return get(name)
		}
		f := r.Field(rel)
		id, _ := get(rel).(string)
		if f == nil || f.Relation == nil || id == "" {
			return nil
		}
		target := e.app.Spec.Resource(f.Relation.To)
		rec, err := e.app.Store.Reader().Get(ctx, target.Name, id, nil)
		if err != nil {
			return nil
		}
		return e.pathGetter(ctx, target, fieldGetter(target, rec))(rest)
	}
}

func fieldGetter(r *spec.Resource, rec *store.Record) func(string) any {
	return func(name string) any { return rec.Field(r, name) }
}

// compareRecords orders by the sort keys (nulls first ascending, last descending), then id.
func compareRecords(r *spec.Resource, sorts []sortKey, a, b *store.Record) int {
	ga, gb := fieldGetter(r, a), fieldGetter(r, b)
	for _, s := range sorts {
		n := query.CompareValues(ga(s.field), gb(s.field))
		if s.desc {
			n = -n
		}
		if n != 0 {
			return n
		}
	}
	return strings.Compare(a.ID, b.ID)
}

// roleOf is the role of a test account name: "customer:other" is a second customer.
func roleOf(account string) string {
	role, _, _ := strings.Cut(account, ":")
	return role
}

// RandomValue is a random valid value of a text field named "resource.field".
func (e *TestEnv) RandomValue(_ context.Context, name string) (any, error) {
	res, field, _ := strings.Cut(name, ".")
	r := e.app.Spec.Resource(res)
	if r == nil || r.Field(field) == nil {
		return "", fmt.Errorf("{random:%s}: no field %s of a resource %s", name, field, res)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.issued == nil {
		e.issued = map[string]bool{}
	}
	// A random value is never handed out twice in a run: fields of narrow types (dates) would
	// otherwise meet again by chance among hundreds of records.
	for range 1000 {
		v := example.RandomTyped(r.Field(field), e.random())
		if key := name + "=" + fmt.Sprint(v); !e.issued[key] {
			e.issued[key] = true
			return v, nil
		}
	}
	return nil, fmt.Errorf("{random:%s}: no unused valid value left", name)
}

// random is the source of random values; callers hold mu.
func (e *TestEnv) random() *rand.Rand {
	if e.rnd == nil {
		var seed [32]byte
		_, _ = crand.Read(seed[:])
		e.rnd = rand.New(rand.NewChaCha8(seed))
	}
	return e.rnd
}

// accountInput is a test account: its email and role, and valid values for the other fields
// the spec requires of accounts (random where text, so they stay unique). Callers hold mu.
func (e *TestEnv) accountInput(email, role string) map[string]any {
	in := map[string]any{spec.FieldEmail: email, spec.FieldRole: role}
	for _, f := range e.app.Spec.Resource(e.app.Spec.Auth.Account).Fields {
		if _, given := in[f.Name]; given || !f.Required || f.HasDefault || f.System || f.Readonly || f.Hidden || f.Relation != nil {
			continue // the email and role given stay: a spec may declare email itself, required
		}
		switch f.Type {
		case spec.TypeString, spec.TypeText, spec.TypeEmail, spec.TypeURL:
			in[f.Name] = example.Random(f, e.random())
		case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
			in[f.Name] = json.Number(fmt.Sprint(example.Value(f, example.Vars{})))
		default:
			in[f.Name] = example.Value(f, example.Vars{})
		}
	}
	return in
}
