package kiln

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Stored reads a record's field as text, exactly as the database holds it: one raw SQL read
// of its column, decoded here (decimal minor units on SQLite, NUMERIC text on PostgreSQL),
// not through the service or the store's record decoding. Relations read as their ids.
func (e *TestEnv) Stored(ctx context.Context, resource, id, field string) (string, error) {
	r := e.app.Spec.Resource(resource)
	if r == nil {
		return "", errors.New("no resource " + resource)
	}
	name := strings.ToLower(field)
	f := r.Field(name)
	switch {
	case name == "created_at" || name == "updated_at":
		f = &spec.Field{Name: name, Type: spec.TypeDatetime}
	case f == nil:
		return "", errors.New(resource + " has no field " + field)
	case f.IsToMany() || f.IsInverse():
		links, err := e.links(ctx, resource, name, []string{id})
		if err != nil {
			return "", err
		}
		return "[" + strings.Join(links[id], ",") + "]", nil
	}
	col := f.Column()
	if col == "" {
		col = f.Name
	}
	sel := quoteIdent(col)
	if e.app.Store.Dialect() == "postgres" && f.Type == spec.TypeDecimal {
		sel = "CAST(" + sel + " AS TEXT)" // NUMERIC's exact text
	}
	rows, err := e.app.Store.Reader().QueryRaw(ctx, "SELECT "+sel+" FROM "+quoteIdent(r.Name)+" WHERE "+quoteIdent("id")+" = ?", id)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	if !rows.Next() {
		return "", errors.Join(rows.Err(), fmt.Errorf("no %s record has id %s", resource, id))
	}
	var raw any
	if err := rows.Scan(&raw); err != nil {
		return "", err
	}
	return storedText(f, raw), nil
}

// storedText writes a column value as tests compare it: decimals as plain decimal text,
// booleans as true/false (SQLite keeps 0/1), date-times in RFC 3339 and UTC.
func storedText(f *spec.Field, raw any) string {
	switch x := raw.(type) {
	case nil:
		return "null"
	case []byte:
		return storedText(f, string(x))
	case int64:
		switch f.Type {
		case spec.TypeDecimal: // SQLite: minor units
			return new(big.Rat).SetFrac(big.NewInt(x), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(f.Scale)), nil)).FloatString(f.Scale)
		case spec.TypeBoolean:
			return strconv.FormatBool(x != 0)
		}
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		if f.Type == spec.TypeDate {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(raw)
}

// Related lists, for each record id, the ids its relation field holds, sorted, as the database
// stores them (the foreign key of a to-one relation, the join table of a to-many one, the
// records pointing back for an inverse one), keeping only the targets role ("" for anonymous)
// may view by the target's view rule. It is what ?expand= must show, computed without the
// API's code.
func (e *TestEnv) Related(ctx context.Context, role, resource, field string, ids []string) (map[string][]string, error) {
	links, err := e.links(ctx, resource, field, ids)
	if err != nil {
		return nil, err
	}
	to := e.app.Spec.Resource(e.app.Spec.Resource(resource).Field(field).Relation.To)
	visible, err := e.viewable(ctx, role, to)
	if err != nil {
		return nil, err
	}
	for id, targets := range links {
		links[id] = slices.DeleteFunc(targets, func(t string) bool { return !visible[t] })
	}
	return links, nil
}

// links reads a relation's target ids for each record id by raw SQL, sorted.
func (e *TestEnv) links(ctx context.Context, resource, field string, ids []string) (map[string][]string, error) {
	r := e.app.Spec.Resource(resource)
	if r == nil {
		return nil, errors.New("no resource " + resource)
	}
	f := r.Field(field)
	if f == nil || f.Relation == nil {
		return nil, fmt.Errorf("%s.%s is not a relation", resource, field)
	}
	from, owner, target, linked := r.Link(f) // to-many fields and their inverses
	switch {
	case linked:
	case f.Relation.Kind == spec.RelToOne:
		from, owner, target = r.Name, "id", f.Column()
	default:
		back := e.app.Spec.Resource(f.Relation.To).Field(f.Relation.Inverse)
		from, owner, target = f.Relation.To, back.Column(), "id"
	}
	out := make(map[string][]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i], out[id] = id, []string{}
	}
	q := "SELECT " + quoteIdent(owner) + ", " + quoteIdent(target) + " FROM " + quoteIdent(from) + " WHERE " +
		quoteIdent(owner) + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")"
	if to := e.app.Spec.Resource(f.Relation.To); to != nil && to.SoftDelete { // deleted records are not linked
		q += " AND " + quoteIdent(target) + " IN (SELECT " + quoteIdent("id") + " FROM " + quoteIdent(to.Name) +
			" WHERE " + quoteIdent(store.DeletedColumn) + " IS NULL)"
	}
	rows, err := e.app.Store.Reader().QueryRaw(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var o, t sql.NullString
		if err := rows.Scan(&o, &t); err != nil {
			return nil, err
		}
		if t.Valid {
			out[o.String] = append(out[o.String], t.String)
		}
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out, rows.Err()
}

// viewable is the set of r's record ids the role may view, by the view rule's CEL.
func (e *TestEnv) viewable(ctx context.Context, role string, r *spec.Resource) (map[string]bool, error) {
	rule, err := e.ruleFor(ctx, role, r.Name, spec.ActionView)
	if err != nil {
		return nil, err
	}
	recs, err := e.matching(ctx, r, nil, rule)
	out := make(map[string]bool, len(recs))
	for _, rec := range recs {
		out[rec.ID] = true
	}
	return out, err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
