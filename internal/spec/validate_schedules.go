package spec

import (
	"errors"
	"slices"
	"strings"
)

func validateSchedules(s *Spec, c *collector) {
	seen := map[string]bool{}
	for _, sc := range s.Schedules {
		checkIdent(c, sc.Pos, "schedule", sc.Name)
		if seen[sc.Name] {
			c.add(sc.Pos, "schedule %s is declared twice", sc.Name)
		}
		seen[sc.Name] = true
		validateSchedule(s, sc, c)
	}
}

func validateSchedule(s *Spec, sc *Schedule, c *collector) {
	if sc.Cron == "" {
		c.add(sc.Pos, "schedule %s needs cron: (e.g. \"0 3 * * *\" or @daily)", sc.Name)
	} else if strings.HasPrefix(sc.Cron, "TZ=") || strings.HasPrefix(sc.Cron, "CRON_TZ=") {
		c.add(sc.CronPos, "schedule %s: name the zone with timezone:, not inside cron:", sc.Name)
	} else if next, err := parseCron(sc.Cron, sc.TimeZone); errors.Is(err, errTimeZone) {
		c.add(sc.TimeZonePos, "schedule %s: timezone %q is %v", sc.Name, sc.TimeZone, err)
	} else if err != nil {
		c.add(sc.CronPos, "schedule %s: cron %q: %v (five fields: minute hour day month weekday, six with leading seconds, or @hourly, @daily, @every 10m)", sc.Name, sc.Cron, err)
	} else {
		sc.next = next
	}
	kinds := 0
	for _, set := range []bool{len(sc.Cleanup) > 0, sc.Update != nil, sc.Handler != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		c.add(sc.Pos, "schedule %s needs exactly one of cleanup:, update: or handler:", sc.Name)
	}
	for _, k := range sc.Cleanup {
		if !slices.Contains(CleanupKinds, k) {
			c.add(sc.Pos, "schedule %s: cleanup %q is not one of %v%s", sc.Name, k, CleanupKinds, suggest(k, CleanupKinds))
		}
		if s.Auth == nil && (k == CleanupRefreshTokens || k == CleanupActionTokens) {
			c.add(sc.Pos, "schedule %s: cleanup %s needs accounts (an auth: block)", sc.Name, k)
		}
	}
	if sc.Handler != "" {
		checkIdent(c, sc.Pos, "handler", sc.Handler)
	}
	if sc.Update != nil {
		validateUpdate(s, "schedule "+sc.Name, sc.Update, c)
	}
	validateJobOptions(&s.Jobs, "schedule "+sc.Name, sc.Pos, sc.JobOptions, c)
}

// validateUpdate checks the update: of a schedule or a trigger (owner names it).
func validateUpdate(s *Spec, owner string, u *ScheduleUpdate, c *collector) {
	r := s.Resource(u.Resource)
	if r == nil {
		c.add(u.Pos, "%s: update.resource %q is not a resource of the spec%s", owner, u.Resource, didYouMean(u.Resource, resourceNames(s)))
		return
	}
	if !u.Filter.Set() {
		c.add(u.Pos, "%s: update needs filter: (CEL over %s's fields)", owner, r.Name)
	}
	if (u.Action == "") == (len(u.Set) == 0) {
		c.add(u.Pos, "%s: update needs exactly one of action: or set:", owner)
	}
	if u.Action != "" {
		checkInputless(c, u.ActionPos, owner, r, u.Action)
	}
	for _, a := range u.Set {
		f := r.Field(a.Field)
		if f == nil || !f.Stored() || f.Derived() {
			c.add(a.Pos, "%s: set: %s is not a stored field of %s that can be written", owner, a.Field, r.Name)
			continue
		}
		checkEnumLiteral(f, a, owner+": set:", c)
	}
	if u.Limit == 0 {
		u.Limit = DefaultScheduleLimit
	}
	if u.Limit > maxScheduleLimit {
		c.add(u.Pos, "%s: update.limit must be at most %d", owner, maxScheduleLimit)
	}
}

// actionNames names r's record actions.
func actionNames(r *Resource) []string {
	out := make([]string, 0, len(r.Actions))
	for _, a := range r.Actions {
		out = append(out, a.Name)
	}
	return out
}

// checkInputless reports an action that r does not have, or that needs input: a schedule, a
// trigger or an incoming webhook runs it with none, so every run would refuse every record.
func checkInputless(c *collector, pos Pos, owner string, r *Resource, name string) {
	a := r.RecordAction(name)
	switch {
	case a == nil:
		c.add(pos, "%s: %s has no action %q%s", owner, r.Name, name, didYouMean(name, actionNames(r)))
	case a.RequiredInput() != "":
		c.add(pos, "%s: action %s of %s needs input %s (required, no default), which it cannot be given here: "+
			"every run would be refused", owner, name, r.Name, a.RequiredInput())
	}
}
