package service

import (
	"context"
	"errors"
	"time"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// ScheduledUpdate runs the update of the schedule whose job kind is kind, as of now: it
// pages through the records its filter holds for (oldest first) and updates them
// (UpdateRecords), each re-checked against the filter inside its own transaction, until
// the schedule's limit of records changed or none is left. Records refused earlier (a
// state machine, a rule) do not starve the others: the pages move past them.
func (s *Service) ScheduledUpdate(ctx context.Context, kind string, now time.Time) (*UpdateReport, error) {
	cu := s.logic.Update(kind)
	if cu == nil {
		return nil, Errorf(CodeNotFound, "no update is declared for %q", kind)
	}
	r, err := s.resource(cu.Spec.Resource)
	if err != nil {
		return nil, err
	}
	ctx = AsSystem(ctx)
	reader := s.store.Reader()
	cond, err := cu.Where(ctx, &txReader{s: s, tx: reader}, &logic.Vars{Now: now.UTC()})
	if ee := (*logic.EvalError)(nil); errors.As(err, &ee) {
		return nil, &Error{Code: CodeLogicFailed, Class: CodeConflict, Cause: err,
			Message: "the update's filter could not be computed"}
	}
	if err != nil {
		return nil, AsError(err)
	}
	rep := &UpdateReport{Refused: map[string]Refusal{}}
	q := query.List{Where: cond, Sort: []query.Sort{{Field: "created_at"}}, Limit: cu.Spec.Limit}
	for page := 0; page < maxUpdatePages && rep.Changed < cu.Spec.Limit; page++ {
		res, err := reader.List(ctx, r.Name, q)
		if err != nil {
			return rep, AsError(err)
		}
		ids := make([]string, len(res.Records))
		for i, rec := range res.Records {
			ids[i] = rec.ID
		}
		if err := s.updateEach(ctx, r, cu, ids, cond, now, rep); err != nil || !res.More {
			return rep, err
		}
		last := res.Records[len(res.Records)-1]
		q.After = []any{last.CreatedAt, last.ID}
	}
	return rep, nil
}

// maxUpdatePages bounds the pages one scheduled run reads (limit records each).
const maxUpdatePages = 10

// UpdateReport says what one run of an update (a schedule's or a trigger's) did.
type UpdateReport struct {
	Matched int // records selected
	Changed int
	// Refused are records the update could not change for a reason waiting will not fix
	// (the state machine refused, a rule failed, the record no longer matches or went
	// meanwhile), with why.
	Refused map[string]Refusal
}

// Refusal is why a record refused an update: the error's code and message, and its field
// errors, each naming the rule that failed when one did.
type Refusal struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Cause is, for the server's log only, what a logic_failed refusal met: the expression
	// and the value it could not handle ("" for other refusals).
	Cause string
}

// UpdateRecords applies the update of job kind (a trigger's, whose records were selected
// when its event was written) to records ids, on the system's authority, each in a
// transaction of its own through the write pipeline — by its action, or by setting its
// fields — so rules, state machines, effects, rollups and events all apply. A refused record
// is reported and skipped; an outage stops the run with an error, to be retried.
func (s *Service) UpdateRecords(ctx context.Context, kind string, ids []string, now time.Time) (*UpdateReport, error) {
	cu := s.logic.Update(kind)
	if cu == nil {
		return nil, Errorf(CodeNotFound, "no update is declared for %q", kind)
	}
	r, err := s.resource(cu.Spec.Resource)
	if err != nil {
		return nil, err
	}
	rep := &UpdateReport{Refused: map[string]Refusal{}}
	return rep, s.updateEach(AsSystem(ctx), r, cu, ids, nil, now, rep)
}

// updateEach updates each of ids that still satisfies where (nil: no re-check) inside its
// own transaction, counting into rep.
func (s *Service) updateEach(ctx context.Context, r *resource, cu *logic.ScheduleUpdate, ids []string, where query.Cond, now time.Time, rep *UpdateReport) error {
	for _, id := range ids {
		rep.Matched++
		var err error
		if cu.Spec.Action != "" {
			err = s.actionWhere(ctx, r, id, cu.Spec.Action, where)
		} else {
			err = s.setScheduled(ctx, r, cu, id, where, now)
		}
		if err == nil {
			rep.Changed++
			continue
		}
		e := AsError(err)
		switch e.StatusCode() {
		case CodeUnavailable, CodeInternal, CodeTimeout:
			return err
		}
		why := Refusal{Code: e.Code, Message: e.Message, Fields: e.Fields}
		if e.Code == CodeLogicFailed && e.Cause != nil {
			why.Cause = e.Cause.Error()
		}
		rep.Refused[id] = why
	}
	return nil
}

// actionWhere runs action name on record id on the system's authority, only while the record
// satisfies where (else 404: it no longer matches).
func (s *Service) actionWhere(ctx context.Context, r *resource, id, name string, where query.Cond) error {
	a := r.RecordAction(name)
	if a == nil {
		return Errorf(CodeNotFound, "%s has no action %q", r.Name, name)
	}
	input, err := s.actionInput(ctx, r, a, nil) // the input's defaults; a required input refuses
	if err != nil {
		return err
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	ctx, done := collect(ctx)
	err = s.store.InTx(ctx, func(tx *store.Exec) error {
		done.reset()
		_, err := s.runAction(ctx, tx, r, a, id, where, input, WriteOpts{})
		return err
	})
	if err != nil {
		return s.writeError(r, err)
	}
	s.flush(ctx, done)
	return nil
}

// setScheduled sets the update's fields on record id, computed from the record as it stands
// inside the write's transaction, while it satisfies where (else 404). The record is read
// locked, as an action's is: an overlapping run of the update (another instance's tick, a
// retry) waits and computes from what this one wrote.
func (s *Service) setScheduled(ctx context.Context, r *resource, cu *logic.ScheduleUpdate, id string, where query.Cond, now time.Time) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	ctx, done := collect(ctx)
	err := s.store.InTx(ctx, func(tx *store.Exec) error {
		done.reset()
		if err := s.lockAhead(ctx, tx, r, spec.OpUpdate, id, nil, nil, false); err != nil {
			return err
		}
		cur, err := tx.GetForUpdate(ctx, r.Name, id, where)
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
		_, err = w.update(ctx, cur.ID, nil, updateArgs{})
		return err
	})
	if err != nil {
		return s.writeError(r, err)
	}
	s.flush(ctx, done)
	return nil
}
