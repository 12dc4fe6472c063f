package service

import (
	"context"
	"errors"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// stillReferenced answers a delete the database refused because other records still refer to
// the record through a required relation (ON DELETE RESTRICT): it names those relations,
// which SQLite's error does not. Only what the caller may know is named — relations that are
// not hidden, on resources it may list, through records its list rule shows it — and never
// the referring records themselves. Any other error, or a refusal nothing it may see
// explains, is the usual answer.
func (s *Service) stillReferenced(ctx context.Context, r *resource, id string, err error) error {
	var ce *store.ConstraintError
	if !errors.As(err, &ce) || ce.Kind != store.ConstraintForeignKey {
		return s.writeError(r, err)
	}
	var fields []FieldError
	var names []string
	for _, other := range s.spec.Resources {
		for _, f := range other.Fields {
			if !restricts(f, r.Name) {
				continue
			}
			live, deleted, lookErr := s.refers(ctx, other, f, id)
			if lookErr != nil {
				return s.writeError(r, err) // the usual answer: the lookup is only a courtesy
			}
			name := other.Name + "." + f.Name
			switch {
			case live:
				fields = append(fields, FieldError{Field: name, Code: "referenced",
					Message: "refers to this record and is required: delete those records or point them elsewhere first"})
			case deleted:
				fields = append(fields, FieldError{Field: name, Code: "referenced",
					Message: "refers to this record from deleted records: restore and point them elsewhere, or wait until they are purged"})
			default:
				continue
			}
			names = append(names, name)
		}
	}
	if len(fields) == 0 {
		return s.writeError(r, err)
	}
	return &Error{Code: CodeConflict, Message: "the record is still referenced by " + strings.Join(names, ", "),
		Fields: fields, Cause: ce}
}

// restricts says whether f is a visible, required to-one relation to the resource named to:
// the database refuses to delete a record such a field refers to.
func restricts(f *spec.Field, to string) bool {
	return f.Relation != nil && f.Relation.To == to && f.Required && f.Stored() && !f.Hidden
}

// refers says whether records of other the caller may list refer to id through f: live ones,
// and (soft_delete) deleted ones.
func (s *Service) refers(ctx context.Context, other *spec.Resource, f *spec.Field, id string) (live, deleted bool, err error) {
	res, ok := s.resources[other.Name]
	if !ok {
		return false, false, nil
	}
	cond, authErr := s.authorize(ctx, res, spec.ActionList)
	if authErr != nil {
		return false, false, nil // not the caller's to know
	}
	q := query.List{Where: query.AndOf(query.Compare{Field: f.Name, Op: query.Eq, Value: id}, cond), Limit: 1}
	for _, del := range []bool{false, true} {
		if del && !other.SoftDelete {
			break
		}
		q.Deleted = del
		page, err := s.store.Reader().List(ctx, other.Name, q)
		if err != nil {
			return false, false, err
		}
		if len(page.Records) > 0 {
			return !del, del, nil
		}
	}
	return false, false, nil
}
