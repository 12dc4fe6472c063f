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
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// pagingParams shape or page a list but do not change which rows it selects or their order.
var pagingParams = []string{"limit", "cursor", "page", "fields", "expand", "count"}

// Rows computes what a list request should return across its pages without the SQL the API
// runs: every stored record is read, then the role's access rule and the filter are evaluated
// in memory straight from their CEL (expr's oracle, not the translations the API renders as
// SQL), shorthand conditions with query.Eval, and the rows sorted in memory, id breaking ties.
func (e *TestEnv) Rows(ctx context.Context, role, pathAndQuery string) ([]string, error) {
	u, err := url.Parse(pathAndQuery)
	if err != nil {
		return nil, err
	}
	resName, ok := e.ResourceOfPath(u.Path)
	if !ok {
		return nil, fmt.Errorf("%s names no resource", u.Path)
	}
	params := u.Query()
	for _, k := range pagingParams {
		params.Del(k)
	}
	filter := params.Get("filter") // read from its CEL text below, not from its translation
	params.Del("filter")
	p, err := e.app.Service.ParseList(resName, params)
	if err != nil {
		return nil, DescribeError(err)
	}
	rowRule, err := e.rowRule(ctx, role, resName)
	if err != nil {
		return nil, err
	}
	recs, err := e.allRecords(ctx, resName)
	if err != nil {
		return nil, err
	}
	r := e.app.Spec.Resource(resName)
	cond := p.Query.Where
	var oracle *expr.Filter
	if filter != "" {
		if oracle, err = expr.NewFilter(r); err != nil {
			return nil, err
		}
	}
	var evalErr error
	kept := slices.DeleteFunc(recs, func(rec *store.Record) bool {
		get := fieldGetter(r, rec)
		visible, err := rowRule(get)
		evalErr = errors.Join(evalErr, err)
		if !visible || !query.Eval(cond, get) {
			return true
		}
		if oracle == nil {
			return false
		}
		ok, err := oracle.Interpret(filter, get)
		evalErr = errors.Join(evalErr, err)
		return !ok
	})
	if evalErr != nil {
		return nil, evalErr
	}
	slices.SortStableFunc(kept, func(a, b *store.Record) int { return compareRecords(r, p.Query.Sort, a, b) })
	ids := make([]string, len(kept))
	for i, rec := range kept {
		ids[i] = rec.ID
	}
	return ids, nil
}

// rowRule decides, per record, whether the list rule lets the role's test account ("" is
// anonymous) see it: read from the rule's CEL by expr's oracle, not from the row condition the
// API renders as SQL. An action the API refuses outright (401, 403) is an error.
func (e *TestEnv) rowRule(ctx context.Context, role, resName string) (func(get func(string) any) (bool, error), error) {
	var who *expr.Auth
	if role != "" {
		id, err := e.account(ctx, role)
		if err != nil {
			return nil, err
		}
		ctx = service.WithPrincipal(ctx, &service.Principal{ID: id, Role: roleOf(role)})
		who = &expr.Auth{ID: id, Role: roleOf(role), Roles: []string{roleOf(role)}}
	}
	if _, err := e.app.Service.Access(ctx, resName, spec.ActionList); err != nil {
		return nil, DescribeError(err)
	}
	rules, err := e.compiledRules()
	if err != nil || rules == nil {
		return func(func(string) any) (bool, error) { return true, nil }, err
	}
	rule := rules.Rule(resName, spec.ActionList)
	return func(get func(string) any) (bool, error) { return rule.Holds(who, get) }, nil
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

// allRecords reads every record of a resource in one query, whatever its access rules.
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
	return res.Records, nil
}

func fieldGetter(r *spec.Resource, rec *store.Record) func(string) any {
	return func(name string) any { return rec.Field(r, name) }
}

// compareRecords orders by the sort keys (nulls first ascending, last descending), then id.
func compareRecords(r *spec.Resource, sorts []query.Sort, a, b *store.Record) int {
	ga, gb := fieldGetter(r, a), fieldGetter(r, b)
	for _, s := range sorts {
		n := query.CompareValues(ga(s.Field), gb(s.Field))
		if s.Desc {
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
func (e *TestEnv) RandomValue(_ context.Context, name string) (string, error) {
	res, field, _ := strings.Cut(name, ".")
	r := e.app.Spec.Resource(res)
	if r == nil || r.Field(field) == nil {
		return "", fmt.Errorf("{random:%s}: no field %s of a resource %s", name, field, res)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return example.Random(r.Field(field), e.random()), nil
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
		if !f.Required || f.HasDefault || f.System || f.Readonly || f.Hidden || f.Relation != nil {
			continue
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
