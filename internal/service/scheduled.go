package service

import (
	"context"
	"time"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// UpdateReport says what one run of an update (a schedule's or a trigger's) did.
type UpdateReport struct {
	Matched int // records selected (at most the update's limit)
	Changed int
	// Refused are records the update could not change for a reason waiting will not fix
	// (the state machine refused, a rule failed, the record went meanwhile), with the code.
	Refused map[string]Code
}

// ScheduledUpdate runs the update of the schedule whose job kind is kind, as of now: it
// selects the records its filter holds for (oldest first, at most its limit), then updates
// them (UpdateRecords).
func (s *Service) ScheduledUpdate(ctx context.Context, kind string, now time.Time) (*UpdateReport, error) {
	cu := s.logic.Update(kind)
	if cu == nil {
		return nil, Errorf(CodeNotFound, "no update is declared for %q", kind)
	}
	ctx = AsSystem(ctx)
	cond, err := cu.Where(ctx, &txReader{s: s, tx: s.store.Reader()}, &logic.Vars{Now: now.UTC()})
	if err != nil {
		return nil, AsError(err)
	}
	ids, err := (&txReader{s: s, tx: s.store.Reader()}).IDs(ctx, cu.Spec.Resource, cond, cu.Spec.Limit)
	if err != nil {
		return nil, AsError(err)
	}
	return s.UpdateRecords(ctx, kind, ids, now)
}

// UpdateRecords applies the update of job kind (a schedule's or a trigger's) to records
// ids, on the system's authority, each in a transaction of its own through the write
// pipeline — by its action, or by setting its fields — so rules, state machines, effects,
// rollups and events all apply. A refused record is reported and skipped; an outage stops
// the run with an error, to be retried.
func (s *Service) UpdateRecords(ctx context.Context, kind string, ids []string, now time.Time) (*UpdateReport, error) {
	cu := s.logic.Update(kind)
	if cu == nil {
		return nil, Errorf(CodeNotFound, "no update is declared for %q", kind)
	}
	r, err := s.resource(cu.Spec.Resource)
	if err != nil {
		return nil, err
	}
	ctx = AsSystem(ctx)
	rep := &UpdateReport{Matched: len(ids), Refused: map[string]Code{}}
	for _, id := range ids {
		if cu.Spec.Action != "" {
			_, err = s.Action(ctx, r.Name, id, cu.Spec.Action, nil, WriteOpts{})
		} else {
			err = s.setScheduled(ctx, r, cu, id, now)
		}
		if err == nil {
			rep.Changed++
			continue
		}
		e := AsError(err)
		switch e.StatusCode() {
		case CodeUnavailable, CodeInternal, CodeTimeout:
			return rep, err
		}
		rep.Refused[id] = e.Code
	}
	return rep, nil
}

// setScheduled sets the schedule's fields on record id, computed from the record as it
// stands inside the write's transaction.
func (s *Service) setScheduled(ctx context.Context, r *resource, cu *logic.ScheduleUpdate, id string, now time.Time) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var rec *store.Record
	err := s.store.InTx(ctx, func(tx *store.Exec) error {
		cur, err := tx.Get(ctx, r.Name, id, nil)
		if err != nil {
			return err
		}
		vars := s.logicVars(ctx, r, cur, cur, string(spec.OpUpdate))
		vars.Now = now.UTC()
		vals, err := cu.Values(ctx, &txReader{s: s, tx: tx}, vars)
		if err != nil {
			return (&write{s: s, r: r}).logicError(err)
		}
		w := &write{s: s, tx: tx, r: r, typed: vals}
		rec, err = w.update(ctx, cur.ID, nil, updateArgs{})
		return err
	})
	if err != nil {
		return s.writeError(r, err)
	}
	s.committed(ctx, r, spec.OpUpdate, rec)
	return nil
}
