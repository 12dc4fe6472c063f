package spec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule runs a job on a cron schedule, once per cluster per tick (docs/jobs.md).
// Exactly one of Cleanup, Update and Handler is set.
type Schedule struct {
	Pos  Pos
	Name string
	// Cron is the expression as written: five fields (minute hour day month weekday), six
	// with leading seconds, or a descriptor (@hourly, @daily, @every 10m).
	Cron     string
	TimeZone string // IANA name; default UTC
	// CronPos and TimeZonePos place errors in their values.
	CronPos, TimeZonePos Pos
	// CatchUp runs one missed tick when a leader starts after ticks went by with no leader
	// (every instance down, or a takeover); without it missed ticks are skipped.
	CatchUp bool
	// Cleanup lists built-in cleanups (CleanupKinds).
	Cleanup []string
	Update  *ScheduleUpdate
	Handler string
	// HandlerPos is where Handler is written.
	HandlerPos Pos
	JobOptions

	next cron.Schedule
}

// ScheduleUpdate changes every record of Resource that Filter selects, each in its own
// transaction with the resource's rules, state machines and events: by running Action on
// it, or by setting fields (CEL over record and now).
type ScheduleUpdate struct {
	Pos      Pos
	Resource string
	Filter   Expr
	Action   string
	// ActionPos places errors about Action in its value.
	ActionPos Pos
	Set       []Assignment
	// Limit bounds the records one run changes (default and at most 10,000); the rest wait
	// for the next tick.
	Limit int
}

// Built-in cleanups a schedule can run.
const (
	CleanupRefreshTokens  = "refresh_tokens"   // sessions past their expiry
	CleanupActionTokens   = "action_tokens"    // verification, reset and invitation tokens past expiry
	CleanupIdempotency    = "idempotency_keys" // stored answers past server.idempotency_ttl
	CleanupEvents         = "events"           // outbox rows past jobs.events_retention
	CleanupSoftDeleted    = "soft_deleted"     // trashed records past their resource's retention
	DefaultScheduleLimit  = 1000
	maxScheduleLimit      = 10000
	scheduleKindPrefix    = "schedule."
	defaultScheduleTZName = "UTC"
)

// CleanupKinds lists the built-in cleanups.
var CleanupKinds = []string{CleanupRefreshTokens, CleanupActionTokens, CleanupIdempotency, CleanupEvents, CleanupSoftDeleted}

// Kind is the job kind of the schedule's runs: "schedule.<name>".
func (s *Schedule) Kind() string { return scheduleKindPrefix + s.Name }

// Next returns the schedule's first tick after t (valid after the spec loaded).
func (s *Schedule) Next(t time.Time) time.Time { return s.next.Next(t) }

// cronParser accepts an optional seconds field and the @ descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var errTimeZone = errors.New("not an IANA time zone name (such as UTC or Europe/Berlin)")

// cronRanges are the bounds of the five fields, and of the seconds field a sixth one leads with.
var cronRanges = [][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}}

// checkCron refuses what the cron parser takes but runs otherwise than written: an @every
// below a second, or not of whole seconds (@every 0s, -5s and 1ms ran every second), and a
// step wider than its field (*/70 in minutes fires at minute 0 only).
func checkCron(expr string) error {
	if d, ok := strings.CutPrefix(expr, "@every "); ok {
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return err
		}
		if dur < time.Second || dur%time.Second != 0 {
			return fmt.Errorf("@every takes a whole number of seconds, at least 1s, not %s", d)
		}
		return nil
	}
	fields := strings.Fields(expr)
	ranges := cronRanges[1:]
	if len(fields) == 6 {
		ranges = cronRanges
	}
	for i, f := range fields {
		if i >= len(ranges) {
			break
		}
		for _, part := range strings.Split(f, ",") {
			span, step, ok := strings.Cut(part, "/")
			n, err := strconv.Atoi(step)
			if !ok || err != nil {
				continue
			}
			lo, hi := ranges[i][0], ranges[i][1]
			if a, b, isRange := strings.Cut(span, "-"); isRange {
				lo, _ = strconv.Atoi(a)
				hi, _ = strconv.Atoi(b)
			} else if v, err := strconv.Atoi(span); err == nil {
				lo = v // 5/20: from 5 to the field's end
			}
			if n > hi-lo {
				return fmt.Errorf("step /%d is wider than its range (%d–%d): it fires at %d only", n, lo, hi, lo)
			}
		}
	}
	return nil
}

// parseCron compiles expr in the named time zone.
func parseCron(expr, tz string) (cron.Schedule, error) {
	if tz == "" {
		tz = defaultScheduleTZName
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, errTimeZone
	}
	if err := checkCron(expr); err != nil {
		return nil, err
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, err
	}
	if spec, ok := sched.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	if sched.Next(time.Now()).IsZero() { // 0 0 30 2 *: no such day
		return nil, errors.New("names no time that exists (such as February 30th): it would never fire")
	}
	return sched, nil
}
