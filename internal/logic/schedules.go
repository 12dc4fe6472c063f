package logic

import (
	"context"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
)

// ScheduleUpdate is a compiled update schedule: the filter that selects the records, as
// parameterized SQL built per run (now is the run's time), and the values it sets.
type ScheduleUpdate struct {
	Spec  *spec.ScheduleUpdate
	where *template
	set   []*assign
}

// schedules compiles the updates of the spec's schedules, by job kind; their filters see
// now (and an empty auth).
func (c *compiler) schedules(out map[string]*ScheduleUpdate) {
	for _, sc := range c.spec.Schedules {
		if cu := c.update(scope{}, "schedule "+sc.Name, sc.Update); cu != nil {
			out[sc.Kind()] = cu
		}
	}
}

// update compiles u, whose filter sees the variables of outer.
func (c *compiler) update(outer scope, what string, u *spec.ScheduleUpdate) *ScheduleUpdate {
	if u == nil || c.spec.Resource(u.Resource) == nil {
		return nil // not an update, or spec validation reported the missing resource
	}
	r := c.spec.Resource(u.Resource)
	cu := &ScheduleUpdate{Spec: u}
	if u.Filter.Set() {
		t, err := c.envs.filterTemplate(nil, outer, r.Name, u.Filter.Text, true)
		if err != nil {
			c.fail(u.Filter.Pos, "%s: update.filter: %v", what, err)
		}
		cu.where = t
	}
	cu.set = c.assignments(scope{resource: r.Name}, r, u.Set, what+" update.set")
	return cu
}

// Update returns the compiled update of a schedule's or a trigger's job kind, or nil.
func (l *Logic) Update(kind string) *ScheduleUpdate { return l.updates[kind] }

// Where is the condition selecting the records to update at now.
func (u *ScheduleUpdate) Where(ctx context.Context, reader Reader, vars *Vars) (query.Cond, error) {
	if u.where == nil {
		return nil, nil
	}
	st := &evalState{ctx: ctx, reader: reader, vars: vars}
	cond, err := u.where.build(st)
	if err != nil {
		return nil, st.errOr(err)
	}
	return cond, nil
}

// Values computes the fields a set: update writes to vars.Record.
func (u *ScheduleUpdate) Values(ctx context.Context, reader Reader, vars *Vars) (map[string]any, error) {
	return evalAssignments(ctx, reader, vars, u.Spec.Resource, u.set)
}

// selected lists the ids of the records the update's filter selects under vars, oldest
// first, at most its limit.
func (u *ScheduleUpdate) selected(ctx context.Context, reader Reader, vars *Vars) ([]string, error) {
	cond, err := u.Where(ctx, reader, vars)
	if err != nil {
		return nil, err
	}
	return reader.IDs(ctx, u.Spec.Resource, cond, u.Spec.Limit)
}
