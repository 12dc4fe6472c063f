package service

import (
	"context"
	"errors"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// FileKeeper stages, in a write's transaction, the deletion of the stored files the write
// took out of its record (a replaced or removed file, a deleted record): they go once the
// write commits, and stay when it rolls back.
type FileKeeper interface {
	RemovedTx(ctx context.Context, tx *store.Exec, res *spec.Resource, old, rec *store.Record) error
}

// removedFiles hands a write's old and new record to the file keeper.
func (w *write) removedFiles(ctx context.Context, old, rec *store.Record) error {
	if w.s.files == nil || old == nil || !w.r.hasFiles {
		return nil
	}
	if rec == nil && w.r.SoftDelete {
		return nil // a soft-deleted record may come back with its files
	}
	return w.s.files.RemovedTx(ctx, w.tx, w.r.Resource, old, rec)
}

// fileTarget is what a change of a file field acts on, once the principal may make it.
type fileTarget struct {
	r    *resource
	f    *spec.Field
	cond query.Cond
	id   string
}

// fileTarget checks the resource, the field (and its write: roles), the update rule and
// the id of a change of a file field.
func (s *Service) fileTarget(ctx context.Context, resName, id, field string) (fileTarget, error) {
	r, err := s.resource(resName)
	if err != nil {
		return fileTarget{}, err
	}
	f, err := s.fileField(ctx, r, field)
	if err != nil {
		return fileTarget{}, err
	}
	cond, err := s.authorizeOn(ctx, r, spec.ActionUpdate)
	if err != nil {
		return fileTarget{}, err
	}
	id, ok := validID(id)
	if !ok {
		return fileTarget{}, Errorf(CodeNotFound, "%s record not found", r.Name)
	}
	return fileTarget{r: r, f: f, cond: cond, id: id}, nil
}

// staleRetries bounds how often ChangeFiles retries when another write changed the record
// between its read and its write.
const staleRetries = 5

// ChangeFiles sets the file field of the record id to what change makes of its current
// stored value, through the update pipeline: the update access rule, the rules, the
// before-hooks, events and triggers apply as to any update. change may run more than once
// (when another write changes the record meanwhile).
func (s *Service) ChangeFiles(ctx context.Context, resName, id, field string, change func(stored any) (any, error)) (*store.Record, error) {
	t, err := s.fileTarget(ctx, resName, id, field)
	if err != nil {
		return nil, err
	}
	r, f, cond, id := t.r, t.f, t.cond, t.id
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return nil, err
	}
	defer leave()
	ctx, done := collect(ctx)
	for attempt := 0; ; attempt++ {
		rec, err := s.changeFilesOnce(ctx, r, cond, id, f, change)
		if errors.Is(err, store.ErrStale) && attempt < staleRetries {
			continue
		}
		if err != nil {
			return nil, s.writeError(r, s.refusedSeen(ctx, err))
		}
		s.flush(ctx, done)
		return rec, nil
	}
}

func (s *Service) changeFilesOnce(ctx context.Context, r *resource, cond query.Cond, id string, f *spec.Field, change func(any) (any, error)) (*store.Record, error) {
	var rec *store.Record
	err := s.store.InTx(ctx, func(tx *store.Exec) error {
		resetWritten(ctx)
		w := &write{s: s, tx: tx, r: r, cond: cond}
		if err := s.lockForChange(ctx, tx, r, id); err != nil {
			return err
		}
		cur, err := tx.Get(ctx, r.Name, id, w.cond)
		if err != nil {
			return w.hidden(err, id, spec.ActionUpdate)
		}
		v, err := change(cur.Values[r.index(f)])
		if err != nil {
			return err
		}
		w.typed = map[string]any{f.Name: v}
		rec, err = w.update(ctx, id, nil, updateArgs{ifMatch: &Match{Version: cur.Version, State: StateTag(r.Resource, cur)}})
		return err
	})
	return rec, err
}

// lockForChange locks the record before ChangeFiles reads it (PostgreSQL; SQLite's one writer
// runs write transactions one at a time), after what its update locks first (lockAhead), so
// that uploads into one record wait for each other as updates do. Read without the lock, 20
// concurrent uploads answered 4 to 8 of them 412 "If-Match does not match" with no If-Match
// sent, once the retries ran out (a trial found it).
func (s *Service) lockForChange(ctx context.Context, tx *store.Exec, r *resource, id string) error {
	if !tx.LocksRows() {
		return nil
	}
	if err := s.lockAhead(ctx, tx, r, spec.OpUpdate, id, nil, nil, false); err != nil {
		return err
	}
	return tx.LockRow(ctx, r.Name, id)
}

// fileField is the file field a request names, if the principal may set it (write:).
func (s *Service) fileField(ctx context.Context, r *resource, field string) (*spec.Field, error) {
	f := r.Field(field)
	if f == nil || f.Type != spec.TypeFile {
		return nil, Errorf(CodeNotFound, "%s has no file field %s", r.Name, field)
	}
	if len(f.Write) > 0 && !isSystem(ctx) && s.rules != nil && !PrincipalFrom(ctx).HasRole(f.Write...) {
		return nil, Errorf(CodeForbidden, "only %s may change %s", RoleList(f.Write), f.Name)
	}
	return f, nil
}

// CanChangeFiles reports, before an upload is read, whether the principal may update the
// record at all (404 when the update rule hides it, 403 when the principal may view it), and returns the field's stored value:
// a refused upload is not streamed.
func (s *Service) CanChangeFiles(ctx context.Context, resName, id, field string) (any, error) {
	t, err := s.fileTarget(ctx, resName, id, field)
	if err != nil {
		return nil, err
	}
	r, f, cond, id := t.r, t.f, t.cond, t.id
	ctx, leave, err := s.enter(ctx, r)
	if err != nil {
		return nil, err
	}
	defer leave()
	rec, err := s.store.Reader().Get(ctx, r.Name, id, cond)
	if errors.Is(err, store.ErrNotFound) {
		err = (&write{r: r, cond: cond}).hidden(err, id, spec.ActionUpdate)
		return nil, s.writeError(r, s.refusedSeen(ctx, err))
	}
	if err != nil {
		return nil, AsError(err)
	}
	return rec.Values[r.index(f)], nil
}
