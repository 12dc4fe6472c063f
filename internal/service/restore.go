package service

import (
	"context"
	"time"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Restore brings back a soft-deleted record of a soft-delete resource. Whoever may delete
// a record may restore it (the delete access rule, applied to the deleted record; one it
// hides is 404, as is a live one). The record returns as it was: its rules for create run
// against it (it re-enters every read, so limits such as "at most 5 open loans" still
// hold), parents' rollups count it again; no defaults, computed fields, state machine or
// effects run. A unique value taken meanwhile is 409 conflict.
func (s *Service) Restore(ctx context.Context, resName, id string, opts WriteOpts) (*store.Record, error) {
	r, err := s.resource(resName)
	if err != nil {
		return nil, err
	}
	if !r.SoftDelete {
		return nil, Errorf(CodeNotFound, "%s has no action %q", r.Name, "restore")
	}
	cond, err := s.authorize(ctx, r, spec.ActionDelete)
	if err != nil {
		return nil, err
	}
	id, ok := validID(id)
	if !ok {
		return nil, Errorf(CodeNotFound, "%s record not found", r.Name)
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
		w := &write{s: s, tx: tx, r: r, cond: cond}
		if rec, err = w.restore(ctx, id, opts.IfMatch); err != nil {
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

func (w *write) restore(ctx context.Context, id string, ifMatch *Match) (*store.Record, error) {
	if err := w.tx.LockRow(ctx, w.r.Name, id); err != nil { // what it restores is what it read
		return nil, err
	}
	rec, err := w.tx.GetDeleted(ctx, w.r.Name, id, w.cond)
	if err != nil {
		return nil, err
	}
	// The delete raised the version, and no answer names the deleted record's: If-Match takes
	// the last tag the live record had (a relation cleared in the trash still changes it).
	live := *rec
	live.Version--
	if !ifMatch.holds(w.r.Resource, &live) {
		return nil, store.ErrStale
	}
	if lr := w.s.logic.Resource(w.r.Name); lr != nil && lr.HasLogic() {
		reader := &txReader{s: w.s, tx: w.tx}
		vars := w.s.logicVars(ctx, w.r, rec, nil, string(spec.OpCreate))
		viols, err := lr.CheckRules(ctx, reader, vars, spec.OpCreate, func(string) bool { return false })
		if err != nil {
			return nil, err
		}
		if err := w.verdict(nil, &logicRun{res: lr, violations: viols}); err != nil {
			return nil, err
		}
	}
	if err := w.tx.Restore(ctx, w.r.Name, rec); err != nil {
		return nil, err
	}
	if err := w.rollups(ctx, rec, nil); err != nil {
		return nil, err
	}
	// An action event without old: the record comes back (triggers may fire on "restore").
	return w.noted(ctx, spec.OpUpdate, rec, w.emit(ctx, events.OpAction, "restore", nil, rec))
}

// Purge removes the soft-deleted records of every soft-delete resource whose retention has
// passed, at most batch of each per call, and says how many went. A record another still
// references through a required relation waits for a later call, after that one is purged.
func (s *Service) Purge(ctx context.Context, now time.Time, batch int) (int64, error) {
	var total int64
	for _, r := range s.spec.Resources {
		if !r.SoftDelete {
			continue
		}
		var n int64
		err := s.store.InTx(ctx, func(tx *store.Exec) error {
			cutoff := now.Add(-r.RetentionOrDefault())
			if s.files == nil || !s.resources[r.Name].hasFiles {
				var err error
				n, err = tx.Purge(ctx, r.Name, cutoff, batch)
				return err
			}
			gone, err := tx.PurgeFiles(ctx, r.Name, cutoff, batch)
			for _, old := range gone {
				if err == nil {
					err = s.files.RemovedTx(ctx, tx, r, old, nil) // their files go with them
				}
			}
			n = int64(len(gone))
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
