package service

import (
	"context"
	"errors"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// WriteOpts modify a write.
type WriteOpts struct {
	// IfMatch makes the write conditional on the stored version and relation state (If-Match);
	// nil means none.
	IfMatch *Match
	// ID sets the new record's id (seed data); empty means a new UUIDv7.
	ID string
	// Remember, when set, runs inside the write's transaction with the resulting record,
	// just before the commit: idempotency keys store their answer there.
	Remember func(ctx context.Context, tx *store.Exec, rec *store.Record) error
}

func (o WriteOpts) remember(ctx context.Context, tx *store.Exec, rec *store.Record) error {
	if o.Remember == nil {
		return nil
	}
	return o.Remember(ctx, tx, rec)
}

// Create validates in and writes a record — with its links, nested children, effects and
// rollups — in one transaction. The steps, in order: decode → field constraints → CEL
// defaults and computed fields → rules → state machine → before-hooks → write, children,
// effects, rollups → commit → after-hooks.
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
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return nil, err
	}
	defer leave()
	ctx, done := collect(ctx)
	var rec *store.Record
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		done.reset()
		w := &write{s: s, tx: tx, r: r, cond: cond, last: opts.Remember == nil}
		if rec, err = w.create(ctx, in, hash, opts.ID); err != nil {
			return err
		}
		return opts.remember(ctx, tx, rec)
	})
	if err != nil {
		return nil, s.writeError(r, err)
	}
	s.flush(ctx, done)
	return rec, nil
}

// Update applies in to the record id: PATCH semantics, or PUT when full (absent fields
// return to their defaults). One transaction; If-Match through opts.IfMatch. A record the
// update rule hides is 404 (403 when the caller may view it: refusedSeen); a change the rule
// would not allow afterwards is 403. On PostgreSQL an update that writes only its row and its
// event goes as one statement (updateAlone).
func (s *Service) Update(ctx context.Context, resName, id string, in map[string]any, full bool, opts WriteOpts) (*store.Record, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	cond, err := s.authorizeOn(ctx, r, spec.ActionUpdate)
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
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return nil, err
	}
	defer leave()
	a := updateArgs{full: full, hash: hash, ifMatch: opts.IfMatch}
	ctx, done := collect(ctx)
	var hooked *hookRun // what the before-hooks changed on the way that did not fold
	rec, err := s.updateBlind(ctx, r, cond, id, in, a, opts)
	if errors.Is(err, errMoved) {
		rec, err = s.updateAlone(ctx, r, cond, id, in, a, opts, &hooked)
	}
	if errors.Is(err, errMoved) {
		err = s.store.InTx(ctx, func(tx *store.Exec) error {
			done.reset()
			w := &write{s: s, tx: tx, r: r, cond: cond, replay: hooked}
			if rec, err = w.update(ctx, id, in, a); err != nil {
				return err
			}
			return opts.remember(ctx, tx, rec)
		})
	}
	if err != nil {
		return nil, s.writeError(r, s.refusedSeen(ctx, err))
	}
	s.flush(ctx, done)
	return rec, nil
}

// updateAlone is an update as one statement on PostgreSQL when nothing but its row and its
// event would be written: the record is read without a lock (on the pool), and its UPDATE,
// with its event, is made only where the version is still the one read and the webhook
// subscriptions are still those in hand — committed by itself when nothing else ran on the
// transaction (store.Fold.Last). Locking the row cost BEGIN, a locking read, a read and COMMIT
// besides. errMoved: nothing was written (another write came between, say), and Update takes
// the usual way, the row locked first.
// hooked gets what the before-hooks changed when the write did not fold (errMoved), for the
// locked write to apply again rather than run them twice.
func (s *Service) updateAlone(ctx context.Context, r *resource, cond queryCond, id string, in map[string]any, a updateArgs, opts WriteOpts, hooked **hookRun) (*store.Record, error) {
	if opts.Remember != nil || s.store.Dialect() != "postgres" || !s.foldsUpdate(r, in, a.full) {
		return nil, errMoved
	}
	digest, ok := s.endsAlone(r, events.OpUpdate)
	if !ok {
		return nil, errMoved
	}
	cur, err := s.store.Reader().Get(ctx, r.Name, id, cond)
	if err != nil {
		return nil, (&write{r: r, cond: cond}).hidden(err, id, spec.ActionUpdate)
	}
	var rec *store.Record
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		resetWritten(ctx)
		read := *cur // each run starts from the record as read
		read.Values = append([]any(nil), cur.Values...)
		w := &write{s: s, tx: tx, r: r, cond: cond, read: &read, digest: digest, last: true}
		rec, err = w.update(ctx, id, in, a)
		*hooked = w.ran
		return err
	})
	return rec, err
}

// Delete removes the record id; a record the delete rule hides is 404 (403 when the caller
// may view it: refusedSeen).
func (s *Service) Delete(ctx context.Context, resName, id string, opts WriteOpts) error {
	r, err := s.resource(resName)
	if err != nil {
		return err
	}
	cond, err := s.authorizeOn(ctx, r, spec.ActionDelete)
	if err != nil {
		return err
	}
	id, ok := validID(id)
	if !ok {
		return Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return err
	}
	defer leave()
	ctx, done := collect(ctx)
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		done.reset()
		w := &write{s: s, tx: tx, r: r, cond: cond}
		_, err := w.delete(ctx, id, opts.IfMatch)
		return err
	})
	if err != nil {
		return s.stillReferenced(ctx, r, id, s.refusedSeen(ctx, err))
	}
	s.flush(ctx, done)
	return nil
}

// committed runs what follows a commit: cache invalidation and after-hooks.
func (s *Service) committed(ctx context.Context, r *resource, op spec.Operation, rec *store.Record) {
	if op != spec.OpCreate && rec != nil {
		s.notify(r.Name, rec.ID)
	}
	if s.hooks != nil && rec != nil {
		s.hooks.After(ctx, r.Name, op, rec)
	}
}

// writeError maps store errors onto client errors; anything else stays internal.
func (s *Service) writeError(r *resource, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	var ce *store.ConstraintError
	switch {
	case errors.As(err, &e):
		s.nameClash(e)
		return e
	case errors.Is(err, store.ErrNotFound): // the cause kept: a batch answers 403 by it (refusedSeen)
		return &Error{Code: CodeNotFound, Message: r.Name + " record not found", Cause: err}
	case errors.Is(err, store.ErrStale):
		return &Error{Code: CodePrecondition, Message: "the record changed since it was read (If-Match does not match)", Cause: err}
	case errors.As(err, &ce):
		return s.constraintError(ce)
	case errors.Is(err, store.ErrInvalidValue):
		return &Error{Code: CodeValidation, Message: "a value has the wrong form", Cause: err}
	}
	return AsError(err)
}

func (s *Service) constraintError(ce *store.ConstraintError) error {
	switch ce.Kind {
	case store.ConstraintUnique:
		c := &uniqueClash{ce: ce}
		return &Error{Code: CodeConflict, Message: "a record with the same value already exists", Fields: c.fields(s), Cause: ce, clash: c}
	case store.ConstraintForeignKey:
		return &Error{Code: CodeConflict, Message: "the record is still referenced by other records, or links to one that does not exist", Cause: ce}
	}
	return &Error{Code: CodeValidation, Message: "the record breaks a database constraint", Cause: ce}
}
