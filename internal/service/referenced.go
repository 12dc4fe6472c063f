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
// which SQLite's error does not. Only the relations are named — resource and field, as the
// spec and the OpenAPI document show them — never the referring records or how many there
// are. Any other error, or a refusal no relation explains, is the usual answer.
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
			found, lookErr := s.refers(ctx, other, f, id)
			if lookErr != nil {
				return s.writeError(r, err) // the usual answer: the lookup is only a courtesy
			}
			if found {
				names = append(names, other.Name+"."+f.Name)
				fields = append(fields, FieldError{Field: other.Name + "." + f.Name, Code: "referenced",
					Message: "refers to this record and is required: delete those records or point them elsewhere first"})
			}
		}
	}
	if len(fields) == 0 {
		return s.writeError(r, err)
	}
	return &Error{Code: CodeConflict, Message: "the record is still referenced by " + strings.Join(names, ", "),
		Fields: fields, Cause: ce}
}

// restricts says whether f is a required to-one relation to the resource named to: the
// database refuses to delete a record such a field refers to.
func restricts(f *spec.Field, to string) bool {
	return f.Relation != nil && f.Relation.To == to && f.Required && f.Stored()
}

// refers says whether a record of other (live or soft-deleted) refers to id through f.
func (s *Service) refers(ctx context.Context, other *spec.Resource, f *spec.Field, id string) (bool, error) {
	q := query.List{Where: query.Compare{Field: f.Name, Op: query.Eq, Value: id}, Limit: 1}
	for _, deleted := range []bool{false, true} {
		if deleted && !other.SoftDelete {
			break
		}
		q.Deleted = deleted
		page, err := s.store.Reader().List(ctx, other.Name, q)
		if err != nil {
			return false, err
		}
		if len(page.Records) > 0 {
			return true, nil
		}
	}
	return false, nil
}
