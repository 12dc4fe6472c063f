package service

import (
	"context"
	"time"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// UpdateReport says what one run of an update schedule did.
type UpdateReport struct {
	Matched int // records the filter selected (at most the schedule's limit)
	Changed int
	// Refused are records the update could not change for a reason waiting will not fix
	// (the state machine refused, a rule failed, the record went meanwhile), with the code.
	Refused map[string]Code
}

// ScheduledUpdate runs the update schedule name as of now, on the system's authority: it
// selects the records its filter holds for (oldest first, at most its limit), then changes
// each in a transaction of its own through the write pipeline — by its action, or by
// setting its fields — so rules, state machines, effects, rollups and events all apply. A
// refused record is reported and skipped; an outage stops the run with an error, and the
// next attempt selects what is still left.
func (s *Service) ScheduledUpdate(ctx context.Context, name string, now time.Time) (*UpdateReport, error) {
	cu := s.logic.ScheduleUpdate(name)
	if cu == nil {
		return nil, Errorf(CodeNotFound, "no update schedule is named %q", name)
	}
	r, err := s.resource(cu.Spec.Resource)
	if err != nil {
		return nil, err
	}
	ctx = AsSystem(ctx)
	ids, err := s.matching(ctx, r, cu, now)
	if err != nil {
		return nil, err
	}
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

// matching lists the ids of the records the schedule's filter selects at now.
func (s *Service) matching(ctx context.Context, r *resource, cu *logic.ScheduleUpdate, now time.Time) ([]string, error) {
	reader := s.store.Reader()
	cond, err := cu.Where(ctx, &txReader{s: s, tx: reader}, &logic.Vars{Now: now.UTC()})
	if err != nil {
		return nil, AsError(err)
	}
	res, err := reader.List(ctx, r.Name, query.List{Where: cond, Sort: []query.Sort{{Field: "created_at"}}, Limit: cu.Spec.Limit})
	if err != nil {
		return nil, AsError(err)
	}
	ids := make([]string, len(res.Records))
	for i, rec := range res.Records {
		ids[i] = rec.ID
	}
	return ids, nil
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
