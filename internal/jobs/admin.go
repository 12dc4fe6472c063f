package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ListOpts filter and page a job list, newest first.
type ListOpts struct {
	State string // one of States, or "" for any
	Kind  string // "" for any
	Limit int    // default 50, at most 500
	// Before lists jobs with a smaller id (the last id of the previous page).
	Before int64
}

// ErrBadState means a state filter names no state.
var ErrBadState = errors.New("not a job state")

// List returns jobs matching o, newest first.
func (q *Queue) List(ctx context.Context, o ListOpts) ([]*Job, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	o.Limit = min(o.Limit, 500)
	p := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(o.Limit)
	if o.State != "" {
		if !slices.Contains(States, o.State) {
			return nil, fmt.Errorf("%w: %q (one of %v)", ErrBadState, o.State, States)
		}
		p = p.States(riverState(o.State))
	} else {
		p = p.States(allStates()...)
	}
	if o.Kind != "" {
		p = p.Kinds(o.Kind)
	}
	if o.Before > 0 {
		p = p.Where("id < @before", river.NamedArgs{"before": o.Before})
	}
	res, err := q.ins.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]*Job, len(res.Jobs))
	for i, r := range res.Jobs {
		out[i] = toJob(r)
	}
	return out, nil
}

func allStates() []rivertype.JobState {
	out := make([]rivertype.JobState, len(States))
	for i, s := range States {
		out[i] = riverState(s)
	}
	return out
}

// Get returns the job id.
func (q *Queue) Get(ctx context.Context, id int64) (*Job, error) {
	r, err := q.ins.JobGet(ctx, id)
	return q.row(r, err)
}

// Retry makes a finished job (dead, cancelled or completed) or a waiting one available
// to run now. It keeps its attempts and errors; one whose attempts were used up gets one
// more (River raises max_attempts by one). A running job is left alone.
func (q *Queue) Retry(ctx context.Context, id int64) (*Job, error) {
	r, err := q.ins.JobRetry(ctx, id)
	return q.row(r, err)
}

// FinishedError is Cancel's answer for a job that had finished already — completed,
// cancelled or dead — or finished while it was being cancelled: nothing was changed.
type FinishedError struct {
	ID    int64
	State string
}

func (e *FinishedError) Error() string {
	return fmt.Sprintf("job %d already %s: nothing to cancel", e.ID, e.State)
}

// Cancel cancels a job that has not finished; a running job's context is cancelled and it
// is not retried. A finished job is left as it is, and the answer is a *FinishedError (River
// would hand it back unchanged, and a cancelled one would be settled a second time).
func (q *Queue) Cancel(ctx context.Context, id int64) (*Job, error) {
	before, err := q.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if finished(before.State) {
		return before, &FinishedError{ID: id, State: before.State}
	}
	r, err := q.ins.JobCancel(ctx, id)
	q.wake()
	j, err := q.row(r, err)
	if err != nil {
		return nil, err
	}
	if j.State == StateCompleted || j.State == StateDead { // it finished meanwhile
		return j, &FinishedError{ID: id, State: j.State}
	}
	if k, ok := q.kinds[j.Kind]; ok && k.Cancelled != nil && j.State == string(rivertype.JobStateCancelled) {
		if err := k.Cancelled(ctx, j); err != nil {
			return j, fmt.Errorf("job %d cancelled, but settling it failed: %w", j.ID, err)
		}
	}
	return j, nil
}

// finished tells the states a job leaves only when retried.
func finished(state string) bool {
	return state == StateCompleted || state == StateCancelled || state == StateDead
}

// wake has River's SQLite listener read its table now (a cancel notifies the worker
// running the job there).
func (q *Queue) wake() {
	if q.pace != nil {
		q.pace.wake()
	}
}

func (q *Queue) row(r *rivertype.JobRow, err error) (*Job, error) {
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return toJob(r), nil
}
