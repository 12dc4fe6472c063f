package spec

import (
	_ "time/tzdata" // schedules name IANA time zones; a minimal container has no zoneinfo

	"github.com/goccy/go-yaml/ast"
)

var (
	scheduleKeys = []string{"name", "cron", "timezone", "catch_up", "cleanup", "update", "handler", "queue", "priority", "max_attempts", "timeout"}
	updateKeys   = []string{"resource", "filter", "action", "set", "limit"}
)

func (w *walker) schedules(n ast.Node) []*Schedule {
	var out []*Schedule
	for _, item := range w.list(n, "schedules") {
		s := &Schedule{Pos: w.pos(item)}
		entries, _ := w.mapping(item, "schedule", scheduleKeys...)
		for _, e := range entries {
			w.scheduleKey(s, e)
		}
		out = append(out, s)
	}
	return out
}

func (w *walker) scheduleKey(s *Schedule, e entry) {
	what := "schedule." + e.key
	switch e.key {
	case "name":
		s.Name = w.str(e.value, what)
	case "cron":
		s.Cron, s.CronPos = w.str(e.value, what), w.pos(e.value)
	case "timezone":
		s.TimeZone, s.TimeZonePos = w.str(e.value, what), w.pos(e.value)
	case "catch_up":
		s.CatchUp = w.boolean(e.value, what)
	case "cleanup":
		s.Cleanup = w.strings(e.value, what)
	case "update":
		s.Update = w.scheduleUpdate(e.value)
	case "handler":
		s.Handler, s.HandlerPos = w.str(e.value, what), w.pos(e.value)
	default:
		w.jobOption(&s.JobOptions, e, what)
	}
}

func (w *walker) scheduleUpdate(n ast.Node) *ScheduleUpdate {
	u := &ScheduleUpdate{Pos: w.pos(n)}
	entries, _ := w.mapping(n, "schedule.update", updateKeys...)
	for _, e := range entries {
		what := "schedule.update." + e.key
		switch e.key {
		case "resource":
			u.Resource = w.str(e.value, what)
		case "filter":
			u.Filter = w.expr(e.value, what)
		case "action":
			u.Action, u.ActionPos = w.str(e.value, what), w.pos(e.value)
		case "set":
			u.Set = w.assignments(e.value, what)
		case "limit":
			u.Limit = w.count(e.value, what)
		}
	}
	return u
}
