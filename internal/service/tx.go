package service

import (
	"context"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

type queryCond = query.Cond

// Tx writes through the pipeline inside another operation's transaction: a Go action's, or
// a batch's. With inner set (Go actions) writes run on the action's authority — the
// resources' access rules do not apply, their logic does; otherwise (a batch) each write
// is authorized for the principal as if it came alone.
type Tx struct {
	s     *Service
	tx    *store.Exec
	inner bool
}

// InSystemTx runs fn in one write transaction (with a context of the system's) with a Tx on Kiln's own authority — access
// rules and transition roles do not apply; field rules, state machines, effects, rollups
// and events do — next to the raw executor, for an integration whose bookkeeping must
// commit with the records it changes (payments). After the commit, the records Update
// wrote get their cache invalidation and after-hooks.
func (s *Service) InSystemTx(ctx context.Context, fn func(ctx context.Context, t *Tx, tx *store.Exec) error) error {
	ctx = WithPrincipal(AsSystem(ctx), nil)
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	ctx, done := collect(ctx)
	err := s.store.InTx(ctx, func(tx *store.Exec) error {
		done.reset()
		return fn(ctx, &Tx{s: s, tx: tx, inner: true}, tx)
	})
	if err != nil {
		s.nameClash(err)
		return err
	}
	s.flush(ctx, done)
	return nil
}

// InTx runs fn in one write transaction as ctx's principal: its Tx authorizes each write as
// the API's would. After the commit, the records it wrote get their cache invalidation and
// after-hooks.
func (s *Service) InTx(ctx context.Context, fn func(ctx context.Context, t *Tx) error) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	ctx, done := collect(ctx)
	err := s.store.InTx(ctx, func(tx *store.Exec) error {
		done.reset()
		return fn(ctx, &Tx{s: s, tx: tx})
	})
	if err != nil {
		s.nameClash(err)
		return AsError(err)
	}
	s.flush(ctx, done)
	return nil
}

// Create creates a record (in is decoded JSON, as a request body would carry it).
func (t *Tx) Create(ctx context.Context, resource string, in map[string]any) (*store.Record, error) {
	w, err := t.write(ctx, resource, spec.ActionCreate)
	if err != nil {
		return nil, err
	}
	in, hash, err := t.s.takePassword(ctx, w.r, in)
	if err != nil {
		return nil, err
	}
	rec, err := w.create(ctx, in, hash, "")
	return rec, t.s.writeError(w.r, err)
}

// Update changes a record (PATCH semantics).
func (t *Tx) Update(ctx context.Context, resource, id string, in map[string]any) (*store.Record, error) {
	w, err := t.write(ctx, resource, spec.ActionUpdate)
	if err != nil {
		return nil, err
	}
	if err := t.s.refusePasswordUpdate(ctx, w.r, in); err != nil {
		return nil, err
	}
	rec, err := w.update(ctx, id, in, updateArgs{})
	return rec, t.s.writeError(w.r, err)
}

// Delete removes a record.
func (t *Tx) Delete(ctx context.Context, resource, id string) error {
	w, err := t.write(ctx, resource, spec.ActionDelete)
	if err != nil {
		return err
	}
	_, err = w.delete(ctx, id, nil)
	return t.s.writeError(w.r, err)
}

// Get reads a record the principal may view (any record on an action's authority), locked
// until the transaction ends (PostgreSQL), as get() reads one: a Go action that reads a record
// and writes values computed from it (a balance plus a credit) waits for a concurrent one
// doing the same, and computes from what it wrote, rather than overwriting it.
func (t *Tx) Get(ctx context.Context, resource, id string) (*store.Record, error) {
	w, err := t.write(ctx, resource, spec.ActionView)
	if err != nil {
		return nil, err
	}
	rec, err := t.tx.GetForUpdate(ctx, resource, id, w.cond)
	return rec, t.s.writeError(w.r, err)
}

func (t *Tx) write(ctx context.Context, resource string, action spec.Action) (*write, error) {
	r, err := t.s.resource(resource)
	if err != nil {
		return nil, err
	}
	w := &write{s: t.s, tx: t.tx, r: r, inner: t.inner}
	if !t.inner {
		authorize := t.s.authorize
		if action == spec.ActionUpdate || action == spec.ActionDelete {
			authorize = t.s.authorizeOn // a batch's update or delete reaches what the caller may view
		}
		if w.cond, err = authorize(ctx, r, action); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// RegisterAction makes fn the Go implementation of an action declared with go: true.
func (s *Service) RegisterAction(resource, action string, fn GoAction) {
	s.goActions[resource+"/"+action] = fn
}

func (s *Service) runGoAction(ctx context.Context, tx *store.Exec, r *resource, a *spec.RecordAction, cur *store.Record, input *logic.Record) (*store.Record, error) {
	fn := s.goActions[r.Name+"/"+a.Name]
	if fn == nil {
		return nil, Errorf(CodeInternal, "action %s of %s is declared go: true, but no Go function is registered for it", a.Name, r.Name)
	}
	id, err := fn(ctx, ActionCall{Resource: r.Name, Record: cur, Input: input.Fields, Tx: &Tx{s: s, tx: tx, inner: true}})
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = cur.ID
	}
	return tx.Get(ctx, r.Name, id, nil)
}
