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

func (c *compiler) schedules() map[string]*ScheduleUpdate {
	out := map[string]*ScheduleUpdate{}
	for _, sc := range c.spec.Schedules {
		u := sc.Update
		if u == nil || c.spec.Resource(u.Resource) == nil {
			continue // not an update, or spec validation reported the missing resource
		}
		r := c.spec.Resource(u.Resource)
		what := "schedule " + sc.Name
		cu := &ScheduleUpdate{Spec: u}
		if u.Filter.Set() {
			t, err := c.envs.filterTemplate(scope{}, r.Name, u.Filter.Text)
			if err != nil {
				c.fail(u.Filter.Pos, "%s: update.filter: %v", what, err)
			}
			cu.where = t
		}
		cu.set = c.assignments(scope{resource: r.Name}, r, u.Set, what+" update.set")
		out[sc.Name] = cu
	}
	return out
}

// ScheduleUpdate returns the compiled update of the named schedule, or nil.
func (l *Logic) ScheduleUpdate(name string) *ScheduleUpdate { return l.schedules[name] }

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
	return evalAssignments(ctx, reader, vars, u.set)
}
