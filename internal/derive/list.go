package derive

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/kiln-dev/kiln/internal/spec"
)

// listRecords is how many records a list file makes, so pages of 2 and 3 need several hops.
const listRecords = 5

func (g *gen) listFile(r *spec.Resource) (*tfile, string) {
	a := g.access(r, spec.ActionList)
	actor, ok := a.actor()
	if !ok {
		return nil, noneMay(r, spec.ActionList, "no role may list every "+r.Name+" record")
	}
	maker, ok := g.makerOf(r)
	if !ok {
		return nil, g.noMaker(r, "no role may create "+r.Name+" records to list")
	}
	coll := g.collection(r)
	f := &tfile{name: r.Name + ".list.test.yaml", endpoint: "GET " + coll, as: actor,
		title: "Listing " + r.Name + ": cursor pages, sorts and filters checked against the same query evaluated in memory."}
	rs, gap := g.newRecordSet(f, r)
	if gap != "" {
		return nil, gap
	}
	var second map[string]any
	for k := 1; k <= listRecords; k++ {
		b := rs.create(fmt.Sprintf("record_%d", k), k, maker)
		if k == 2 {
			second = map[string]any{}
			for _, item := range b {
				second[item.Key.(string)] = item.Value
			}
		}
	}
	f.add(&tcase{name: "all_pages", comment: "following next_cursor visits every row exactly once; total counts them",
		path:   coll + "?limit=2&count=true",
		expect: want(200).withSchema().walk(true)})
	f.add(&tcase{name: "all_pages_by_number", comment: "offset paging (?page=N) lists the same rows in the same order",
		path: coll + "?page=1&limit=2&sort=-created_at", expect: want(200).walk(true)})
	g.shapeCases(f, r, coll)
	g.sortCases(f, r, coll)
	g.filterCases(f, r, coll, second)
	g.listParamCases(f, r, coll)
	if g.s.Auth != nil {
		f.add(&tcase{name: "all_pages_with_an_api_key", comment: "an API key acting with the role lists the same rows",
			path: coll + "?limit=2", headers: yaml.MapSlice{{Key: "Authorization", Value: "Bearer {api_key}"}}, expect: want(200).walk(true)})
	}
	if a.open() && g.s.Auth != nil {
		f.add(&tcase{name: "all_pages_anonymous", comment: "the rule is public", path: coll + "?limit=2", headers: noAuth(), expect: want(200).walk(true)})
	}
	g.credentialCases(f, a, nil)
	g.wrongRoleCases(f, a, nil, nil)
	for _, role := range a.with(rowOnly) {
		_, account, _ := g.ownRecord(f, rs, role)
		f.add(&tcase{name: "all_pages_as_" + role, as: cmp.Or(account, role), path: coll + "?limit=2",
			comment: role + " sees only the rows its rule selects: the rule evaluated in memory must agree",
			expect:  want(200).walk(true)})
	}
	return f, ""
}

// sortable lists the fields a list may sort by, system fields last.
func sortable(r *spec.Resource) []string {
	var out []string
	for _, f := range r.Fields {
		if f.Stored() && !f.Hidden && !f.StoredAsJSON() {
			out = append(out, f.Name)
		}
	}
	return append(out, "created_at")
}

func (g *gen) sortCases(f *tfile, r *spec.Resource, coll string) {
	names := sortable(r)
	if len(names) > 1 {
		first, second := twoKeys(r, names)
		f.add(&tcase{name: "sort_by_" + first + "_then_" + second, path: coll + "?sort=-" + first + "," + second + "&limit=2",
			comment: "ties on the first key are ordered by the second, then by id", expect: want(200).walk(true)})
	}
	for _, name := range names {
		for _, dir := range []string{"", "-"} {
			suffix := ""
			if dir == "-" {
				suffix = "_descending"
			}
			f.add(&tcase{name: "sort_by_" + name + suffix, path: coll + "?sort=" + dir + name + "&limit=3",
				expect: want(200).walk(true)})
		}
	}
}

// filterCases: one filter per filterable field, sorted by it descending and paged by 2, and
// the shorthand form; each must select and order exactly what the in-memory evaluation does.
func (g *gen) filterCases(f *tfile, r *spec.Resource, coll string, second map[string]any) {
	nulls := false
	var preds []string
	for _, fld := range r.Fields {
		pred := predicate(fld, second[fld.Name])
		if pred == "" || fld.Hidden {
			continue
		}
		preds = append(preds, pred)
		f.add(&tcase{name: "filter_on_" + fld.Name, path: coll + "?filter=" + pred + "&sort=-" + fld.Name + "&limit=2",
			expect: want(200).walk(true)})
		f.add(&tcase{name: "filter_not_on_" + fld.Name, path: coll + "?filter=!(" + pred + ")&limit=2",
			comment: "a negation keeps the records the condition is false for, those without a value included",
			expect:  want(200).walk(true)})
		if !nulls && !fld.Required && !fld.HasDefault && fld.Relation == nil {
			nulls = true
			f.add(&tcase{name: "filter_" + fld.Name + "_is_null", path: coll + "?filter=" + fld.Name + " == null&limit=2",
				expect: want(200).walk(true)})
		}
		if fld.Type == spec.TypeEnum || fld.Type == spec.TypeBoolean {
			f.add(&tcase{name: "shorthand_" + fld.Name, path: fmt.Sprintf("%s?%s=%v&limit=2", coll, fld.Name, second[fld.Name]),
				expect: want(200).walk(true)})
		}
	}
	if len(preds) >= 3 {
		f.add(&tcase{name: "filter_combined", path: coll + "?filter=(" + preds[0] + " && " + preds[1] + ") || !(" + preds[2] + ")&limit=2",
			expect: want(200).walk(true)})
	}
	f.add(&tcase{name: "filter_on_created_at", path: coll + `?filter=created_at >= timestamp("2000-01-01T00:00:00Z")&sort=created_at&limit=3`,
		expect: want(200).walk(true)})
}

// predicate is a CEL condition on the field that the second list record meets.
func predicate(f *spec.Field, v any) string {
	if v == nil {
		return ""
	}
	switch {
	case f.Relation != nil && f.Relation.Kind == spec.RelToOne:
		return fmt.Sprintf("%s == %q", f.Name, v)
	case f.Relation != nil:
		return ""
	}
	switch f.Type {
	case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
		return fmt.Sprintf("%s >= %s", f.Name, plainText(v))
	case spec.TypeBoolean:
		return f.Name
	case spec.TypeEnum:
		return fmt.Sprintf("%s in [%q, %q]", f.Name, f.Values[0], v)
	case spec.TypeDatetime:
		return fmt.Sprintf("%s >= timestamp(%q)", f.Name, v)
	case spec.TypeString, spec.TypeText, spec.TypeEmail, spec.TypeURL, spec.TypeDate:
		s := fmt.Sprint(v)
		if i := strings.Index(s, "{"); i > 0 {
			return fmt.Sprintf("%s.startsWith(%q)", f.Name, s[:i])
		}
		return fmt.Sprintf("%s >= %q", f.Name, s)
	}
	return ""
}

// listParamCases: bad list parameters are 400s naming the parameter.
func (g *gen) listParamCases(f *tfile, r *spec.Resource, coll string) {
	for _, c := range []struct{ name, query, param, code string }{
		{"bad_filter", "filter=" + sortable(r)[0] + " >", "filter", "invalid_filter"},
		{"filter_on_unknown_field", "filter=not_a_field == 1", "filter", "invalid_filter"},
		{"sort_by_unknown_field", "sort=not_a_field", "sort", "invalid_sort"},
		{"limit_out_of_range", "limit=0", "limit", "range"},
		{"unknown_parameter", "not_a_parameter=1", "not_a_parameter", "unknown_parameter"},
		{"bad_cursor", "cursor=not-a-cursor", "cursor", "invalid_cursor"},
	} {
		f.add(&tcase{name: c.name, path: coll + "?" + c.query, expect: want(400).code("malformed_request").field(c.param, c.code)})
	}
}

// twoKeys picks a first sort key with many ties (a boolean or enum when there is one) and a
// second, different key.
func twoKeys(r *spec.Resource, names []string) (string, string) {
	first := names[0]
	for _, f := range r.Fields {
		if f.Stored() && (f.Type == spec.TypeBoolean || f.Type == spec.TypeEnum) {
			first = f.Name
			break
		}
	}
	for _, n := range names {
		if n != first {
			return first, n
		}
	}
	return first, names[0]
}

// shapeCases: ?fields= and ?expand= change what each row holds, never which rows are listed,
// and the rows still match the API's schema.
func (g *gen) shapeCases(f *tfile, r *spec.Resource, coll string) {
	var relations []string
	var refused []*spec.Field // relations whose targets the file's role may not view
	for _, fld := range r.Fields {
		switch {
		case fld.Relation == nil || fld.Hidden:
		case g.expandRefused(fld, f.as):
			refused = append(refused, fld)
		default:
			relations = append(relations, fld.Name)
		}
	}
	if names := sortable(r); len(names) > 1 {
		f.add(&tcase{name: "selected_fields", path: coll + "?fields=" + names[0] + "&limit=2",
			expect: want(200).withSchema().walk(true)})
	}
	if len(relations) > 0 {
		f.add(&tcase{name: "expanded_relations", path: coll + "?expand=" + strings.Join(relations, ",") + "&limit=2",
			comment: "related records in place of ids, inverse relations included", expect: want(200).withSchema().walk(true)})
	}
	for _, fld := range refused {
		f.add(refusedExpand("expanding_"+fld.Name+"_refused", coll+"?expand="+fld.Name+"&limit=2", fld, f.as))
	}
}
