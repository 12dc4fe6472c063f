package service

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// WriteOpts modify a write.
type WriteOpts struct {
	// IfVersion makes the write conditional on the stored version (If-Match); 0 means none.
	IfVersion int64
	// ID sets the new record's id (seed data); empty means a new UUIDv7.
	ID string
}

// Create validates in and inserts a record with its links, in one transaction.
func (s *Service) Create(ctx context.Context, resName string, in map[string]any, opts WriteOpts) (*store.Record, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	cond, err := s.authorize(ctx, r, spec.ActionCreate)
	if err != nil {
		return nil, err
	}
	in, hash, err := s.takePassword(ctx, r, in)
	if err != nil {
		return nil, err
	}
	now := s.nowUTC()
	rec := &store.Record{ID: s.newID(), CreatedAt: now, UpdatedAt: now, Version: 1, Values: r.defaults(now, PrincipalFrom(ctx))}
	if opts.ID != "" {
		id, ok := validID(opts.ID)
		if !ok {
			return nil, &Error{Code: CodeValidation, Message: "invalid id", Fields: []FieldError{{Field: "id", Code: "format", Message: "must be a UUID"}}}
		}
		rec.ID = id
	}
	if err := s.applyInput(ctx, r, rec, in, true); err != nil {
		return nil, err
	}
	r.setPasswordHash(rec.Values, hash)
	if !r.allowsValues(cond, rec.Values, rec.ID) {
		return nil, Errorf(CodeForbidden, "the access rule for create on %s does not allow this record", r.Name)
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		if err := s.checkRelations(ctx, tx, r, rec, in); err != nil {
			return err
		}
		if err := tx.Insert(ctx, r.Name, rec); err != nil {
			return err
		}
		return s.writeLinks(ctx, tx, r, rec, in)
	})
	if err != nil {
		return nil, s.writeError(r, err)
	}
	return rec, nil
}

// applyInput checks field write roles and applies in to rec, reporting every problem at once.
func (s *Service) applyInput(ctx context.Context, r *resource, rec *store.Record, in map[string]any, requireAll bool) error {
	var denied fieldErrors
	s.checkWriteRoles(ctx, r, in, &denied)
	err := r.apply(rec, in, requireAll)
	if len(denied) == 0 {
		return err
	}
	if e, ok := err.(*Error); ok {
		denied = append(denied, e.Fields...)
	}
	r.sortErrors(denied)
	return denied.err(CodeValidation, "the request has invalid fields")
}

// Update applies in to the record id: PATCH semantics, or PUT when full (absent fields
// return to their defaults). One transaction; If-Match through opts.IfVersion. A record the
// update rule hides is 404; a change the rule would not allow afterwards is 403.
func (s *Service) Update(ctx context.Context, resName, id string, in map[string]any, full bool, opts WriteOpts) (*store.Record, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	cond, err := s.authorize(ctx, r, spec.ActionUpdate)
	if err != nil {
		return nil, err
	}
	id, ok := validID(id)
	if !ok {
		return nil, Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	if err := s.refusePasswordUpdate(ctx, r, in); err != nil {
		return nil, err
	}
	in, hash, err := s.takePassword(ctx, r, in)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var rec *store.Record
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		cur, err := tx.Get(ctx, r.Name, id, cond)
		if err != nil {
			return err
		}
		if opts.IfVersion > 0 && cur.Version != opts.IfVersion {
			return store.ErrStale
		}
		if in, err = s.guardAccountUpdate(ctx, r, cur, in); err != nil {
			return err
		}
		rec, err = s.updateValues(ctx, r, cur, in, full, hash)
		if err != nil {
			return err
		}
		if !r.allowsValues(cond, rec.Values, rec.ID) {
			return Errorf(CodeForbidden, "the access rule for update on %s does not allow this change", r.Name)
		}
		if err := s.checkRelations(ctx, tx, r, rec, in); err != nil {
			return err
		}
		if err := tx.Update(ctx, r.Name, rec, rec.Version); err != nil {
			return err
		}
		return s.writeLinks(ctx, tx, r, rec, in)
	})
	if err != nil {
		return nil, s.writeError(r, err)
	}
	s.notify(r.Name, rec.ID)
	return rec, nil
}

// updateValues computes the record after the write: PUT starts from defaults but keeps the
// account's password hash and what only the system sets.
func (s *Service) updateValues(ctx context.Context, r *resource, cur *store.Record, in map[string]any, full bool, hash string) (*store.Record, error) {
	now := s.nowUTC()
	if full {
		p := PrincipalFrom(ctx)
		fresh := r.defaults(now, p)
		for i, f := range r.Fields {
			_, given := in[f.Name]
			keep := f.Readonly || (f.IsToMany() && !given) ||
				(len(f.Write) > 0 && !isSystem(ctx) && s.rules != nil && !p.HasRole(f.Write...))
			if keep {
				fresh[i] = cur.Values[i]
			}
		}
		cur.Values = fresh
	}
	cur.UpdatedAt = now
	if err := s.applyInput(ctx, r, cur, in, full); err != nil {
		return nil, err
	}
	r.setPasswordHash(cur.Values, hash)
	return cur, nil
}

// Delete removes the record id; a record the delete rule hides is 404.
func (s *Service) Delete(ctx context.Context, resName, id string, opts WriteOpts) error {
	r, err := s.resource(resName)
	if err != nil {
		return err
	}
	cond, err := s.authorize(ctx, r, spec.ActionDelete)
	if err != nil {
		return err
	}
	id, ok := validID(id)
	if !ok {
		return Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		if cond != nil {
			if _, err := tx.Get(ctx, r.Name, id, cond); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, r.Name, id, opts.IfVersion)
	})
	if err != nil {
		return s.writeError(r, err)
	}
	s.notify(r.Name, id)
	return nil
}

// DefaultAuthID is the default that stands for the id of the account making the request.
const DefaultAuthID = "auth.id"

// defaults returns the values a new record starts with.
func (r *resource) defaults(now any, p *Principal) []any {
	vals := make([]any, len(r.Fields))
	for i, f := range r.Fields {
		if f.IsToMany() {
			vals[i] = []string{}
		}
		if !f.HasDefault || f.Default == nil {
			continue
		}
		text := f.Default.(string)
		if text == DefaultAuthID {
			if p != nil && p.ID != "" { // an API key is no account: the field stays empty
				vals[i] = p.ID
			}
			continue
		}
		if f.Type == spec.TypeDatetime && text == "now" {
			vals[i] = now
			continue
		}
		var raw any = text
		switch f.Type {
		case spec.TypeInteger, spec.TypeNumber, spec.TypeDecimal:
			raw = json.Number(text)
		case spec.TypeBoolean:
			raw, _ = strconv.ParseBool(text)
		}
		vals[i], _, _ = coerce(f, raw)
	}
	return vals
}

// apply validates every key of in and sets it on rec, reporting all problems at once.
// With requireAll, required fields missing from the result are errors too.
func (r *resource) apply(rec *store.Record, in map[string]any, requireAll bool) error {
	var errs fieldErrors
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.applyOne(rec, k, in[k], &errs)
	}
	for i, f := range r.Fields {
		_, given := in[f.Name]
		if f.Required && rec.Values[i] == nil && (requireAll || given) {
			if !hasField(errs, f.Name) {
				errs.add(f.Name, "required", "is required")
			}
		}
	}
	r.sortErrors(errs)
	return errs.err(CodeValidation, "the request has invalid fields")
}

func (r *resource) applyOne(rec *store.Record, key string, raw any, errs *fieldErrors) {
	f := r.Field(key)
	switch {
	case f == nil && (key == "id" || key == "created_at" || key == "updated_at"):
		errs.add(key, "readonly", "is set by the server")
		return
	case f == nil:
		errs.add(key, "unknown_field", "is not a field of %s", r.Name)
		return
	case f.Readonly || f.IsInverse():
		errs.add(key, "readonly", "cannot be written")
		return
	}
	idx := r.index(f)
	v, code, msg := coerce(f, raw)
	if code != "" {
		errs.add(key, code, "%s", msg)
		return
	}
	if v != nil {
		if code, msg := r.rules[idx].check(f, v); code != "" {
			errs.add(key, code, "%s", msg)
			return
		}
	}
	rec.Values[idx] = v
}

func (r *resource) index(f *spec.Field) int {
	for i, x := range r.Fields {
		if x == f {
			return i
		}
	}
	return -1
}

func (r *resource) sortErrors(errs fieldErrors) {
	pos := func(name string) int {
		if f := r.Field(name); f != nil {
			return r.index(f)
		}
		return len(r.Fields)
	}
	sort.SliceStable(errs, func(i, j int) bool { return pos(errs[i].Field) < pos(errs[j].Field) })
}

func hasField(errs fieldErrors, name string) bool {
	for _, e := range errs {
		if e.Field == name {
			return true
		}
	}
	return false
}

// checkRelations verifies, inside the transaction, that every id the write links to exists
// and that the writer may view it: one query per relation field, and a 400 naming the field
// otherwise. A target the writer may not view answers exactly like a missing one, so writes
// cannot probe which ids exist — unless the field says allow_hidden.
func (s *Service) checkRelations(ctx context.Context, tx *store.Exec, r *resource, rec *store.Record, in map[string]any) error {
	var errs fieldErrors
	for i, f := range r.Fields {
		if f.Relation == nil || f.IsInverse() || rec.Values[i] == nil {
			continue
		}
		if _, given := in[f.Name]; !given {
			continue
		}
		ids, _ := rec.Values[i].([]string)
		if one, ok := rec.Values[i].(string); ok {
			ids = []string{one}
		}
		found, err := s.visibleIDs(ctx, tx, f, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !found[id] {
				errs.add(f.Name, "not_found", "no %s record has id %s", f.Relation.To, id)
				break
			}
		}
	}
	return errs.err(CodeValidation, "the request links to records that do not exist")
}

// visibleIDs returns which of ids exist in f's target resource and are visible to the writer.
func (s *Service) visibleIDs(ctx context.Context, tx *store.Exec, f *spec.Field, ids []string) (map[string]bool, error) {
	var cond query.Cond
	if !f.AllowHidden {
		var err error
		cond, err = s.authorize(ctx, s.resources[f.Relation.To], spec.ActionView)
		var e *Error
		if errors.As(err, &e) && (e.Code == CodeForbidden || e.Code == CodeUnauthorized) {
			return map[string]bool{}, nil // the writer can see none of them
		}
		if err != nil {
			return nil, err
		}
	}
	return tx.ExistingIDs(ctx, f.Relation.To, ids, cond)
}

func (s *Service) writeLinks(ctx context.Context, tx *store.Exec, r *resource, rec *store.Record, in map[string]any) error {
	for i, f := range r.Fields {
		if !f.IsToMany() {
			continue
		}
		if _, given := in[f.Name]; !given {
			continue
		}
		ids, _ := rec.Values[i].([]string)
		if err := tx.SetLinks(ctx, r.Name, f.Name, rec.ID, ids); err != nil {
			return err
		}
	}
	return nil
}

// writeError maps store errors onto client errors; anything else stays internal.
func (s *Service) writeError(r *resource, err error) error {
	var e *Error
	var ce *store.ConstraintError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return Errorf(CodeNotFound, "%s record not found", r.Name)
	case errors.Is(err, store.ErrStale):
		return &Error{Code: CodePrecondition, Message: "the record changed since it was read (If-Match does not match)", Cause: err}
	case errors.As(err, &ce):
		return s.constraintError(r, ce)
	case errors.Is(err, store.ErrInvalidValue):
		return &Error{Code: CodeValidation, Message: "a value has the wrong form", Cause: err}
	}
	return AsError(err)
}

func (s *Service) constraintError(r *resource, ce *store.ConstraintError) error {
	switch ce.Kind {
	case store.ConstraintUnique:
		var fields []FieldError
		for _, col := range ce.Columns {
			name := s.store.FieldForColumn(ce.Table, col)
			fields = append(fields, FieldError{Field: name, Code: "unique", Message: "is already taken"})
		}
		return &Error{Code: CodeConflict, Message: "a record with the same value already exists", Fields: fields, Cause: ce}
	case store.ConstraintForeignKey:
		return &Error{Code: CodeConflict, Message: "the record is still referenced by other records, or links to one that does not exist", Cause: ce}
	}
	return &Error{Code: CodeValidation, Message: "the record breaks a database constraint", Cause: ce}
}
