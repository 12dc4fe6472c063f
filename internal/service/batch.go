package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// BatchOp is one write of a batch: a create (no ID), an update (PATCH semantics) or a delete.
type BatchOp struct {
	Op       spec.Operation
	Resource string
	ID       string
	In       map[string]any
}

// BatchResult is what one operation of a batch did: the record it wrote (the deleted record
// for a delete).
type BatchResult struct {
	Op       spec.Operation
	Resource string
	Record   *store.Record
}

// BatchError is the failure of one operation of a batch (everything was rolled back).
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("operation %d: %v", e.Index, e.Err) }

// Unwrap exposes the operation's error.
func (e *BatchError) Unwrap() error { return e.Err }

// Batch runs n operations in one transaction, all or nothing. next builds operation i from
// the results so far (later operations refer to earlier records); each operation is
// authorized for the principal as if it came alone and runs the whole write pipeline.
// remember, when set, runs in the transaction with every result, before the commit.
func (s *Service) Batch(ctx context.Context, n int, next func(i int, done []BatchResult) (BatchOp, error),
	remember func(ctx context.Context, tx *store.Exec, done []BatchResult) error) ([]BatchResult, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	ctx, wrote := collect(ctx)
	var done []BatchResult
	err := s.store.InTx(ctx, func(tx *store.Exec) error {
		done = done[:0]
		wrote.reset()
		t := &Tx{s: s, tx: tx}
		for i := range n {
			op, err := next(i, done)
			if err != nil {
				return &BatchError{Index: i, Err: err}
			}
			rec, err := t.run(ctx, op)
			if err != nil {
				return &BatchError{Index: i, Err: err}
			}
			done = append(done, BatchResult{Op: op.Op, Resource: op.Resource, Record: rec})
		}
		if remember == nil {
			return nil
		}
		return remember(ctx, tx, done)
	})
	if err != nil {
		s.nameClash(err)
		return nil, s.refusedSeen(ctx, s.namedReferences(ctx, err))
	}
	s.flush(ctx, wrote)
	return done, nil
}

// run performs one batch operation.
func (t *Tx) run(ctx context.Context, op BatchOp) (*store.Record, error) {
	if op.Op == spec.OpCreate {
		return t.Create(ctx, op.Resource, op.In)
	}
	r, err := t.s.resource(op.Resource)
	if err != nil {
		return nil, err
	}
	id, ok := validID(op.ID)
	if !ok {
		return nil, Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	if op.Op == spec.OpUpdate {
		return t.Update(ctx, op.Resource, id, op.In)
	}
	w, err := t.write(ctx, op.Resource, spec.ActionDelete)
	if err != nil {
		return nil, err
	}
	old, err := w.delete(ctx, id, nil)
	if err != nil {
		return nil, &deleteRefused{r: w.r, id: id, err: t.s.writeError(w.r, err), cause: err}
	}
	return old, nil
}

// deleteRefused is a batch's delete that failed, kept so that once the batch's transaction has
// ended (and given back its connection) a refusal by a reference can name the relations
// (stillReferenced): looked up inside it, each failing batch held one connection while it
// waited for another, and concurrent ones ran the pool dry.
type deleteRefused struct {
	r     *resource
	id    string
	err   error // the answer as it stands
	cause error // the store's error
}

func (e *deleteRefused) Error() string { return e.err.Error() }
func (e *deleteRefused) Unwrap() error { return e.err }

// namedReferences turns a batch's refused delete into the answer that names the relations
// still referring to the record, after the transaction.
func (s *Service) namedReferences(ctx context.Context, err error) error {
	var be *BatchError
	var dr *deleteRefused
	if !errors.As(err, &be) || !errors.As(be.Err, &dr) {
		return err
	}
	return &BatchError{Index: be.Index, Err: s.stillReferenced(ctx, dr.r, dr.id, dr.cause)}
}
