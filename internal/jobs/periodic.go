package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/kiln-dev/kiln/internal/store"
)

// Periodic makes a kind run on a schedule: once per cluster per tick. Only the elected
// leader (River's leader election) inserts runs, and each run carries its tick and is
// unique by it, so a tick inserted twice — by an old leader that has not noticed it lost
// its lease, say — still runs once.
type Periodic struct {
	Kind string // a kind of Config.Kinds
	// Next returns the first tick after t.
	Next        func(time.Time) time.Time
	Queue       string
	Priority    int
	MaxAttempts int
	// CatchUp: when a leader starts and the latest tick before now never ran (every
	// instance was down, or the leadership moved over it), that one tick runs at once.
	// Without it missed ticks are skipped.
	CatchUp bool
}

// tickArgs are a periodic job's args: the tick it runs for.
type tickArgs struct {
	Tick time.Time `json:"tick"`
}

// TickOf returns the tick a periodic job runs for.
func TickOf(j *Job) (time.Time, error) {
	var a tickArgs
	if err := json.Unmarshal(j.Args, &a); err != nil || a.Tick.IsZero() {
		return time.Time{}, fmt.Errorf("jobs: %s is not a periodic job with a tick", j.Kind)
	}
	return a.Tick, nil
}

// tickSchedule hands River the schedule while remembering the tick it last computed:
// River's periodic enqueuer asks for the next run time, waits for it, then builds the job
// and asks for the one after, so the remembered tick is the one being inserted.
type tickSchedule struct {
	next    func(time.Time) time.Time
	mu      sync.Mutex
	pending time.Time
}

func (s *tickSchedule) Next(t time.Time) time.Time {
	n := s.next(t)
	s.mu.Lock()
	s.pending = n
	s.mu.Unlock()
	return n
}

func (s *tickSchedule) current() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// periodicJobs builds River's periodic jobs: per schedule one that ticks and, with
// CatchUp, one that runs on each leader's start to run the latest missed tick.
func (q *Queue) periodicJobs() []*river.PeriodicJob {
	var out []*river.PeriodicJob
	for _, p := range q.cfg.Periodic {
		sched := &tickSchedule{next: p.Next}
		out = append(out, river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			return q.tickJob(p, sched.current())
		}, &river.PeriodicJobOpts{ID: p.Kind}))
		if p.CatchUp {
			out = append(out, river.NewPeriodicJob(river.NeverSchedule(), func() (river.JobArgs, *river.InsertOpts) {
				return q.catchUp(p)
			}, &river.PeriodicJobOpts{ID: p.Kind + ".catch_up", RunOnStart: true}))
		}
	}
	return out
}

func (q *Queue) tickJob(p Periodic, tick time.Time) (river.JobArgs, *river.InsertOpts) {
	raw, err := json.Marshal(tickArgs{Tick: tick.UTC()})
	if err != nil || tick.IsZero() {
		return nil, nil
	}
	opts := &river.InsertOpts{Queue: p.Queue, Priority: p.Priority, MaxAttempts: p.MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if opts.Queue == "" {
		opts.Queue = DefaultQueue
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = defaultMaxAttempts
	}
	return dynArgs{kind: p.Kind, raw: raw}, opts
}

// catchUp returns the latest tick at or before now that is later than the last tick that
// ran, or nothing when none was missed (or the schedule never ran: a new schedule has
// nothing to catch up).
func (q *Queue) catchUp(p Periodic) (river.JobArgs, *river.InsertOpts) {
	// River calls this while its enqueuer waits: keep the read short.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	last, err := lastTick(ctx, q.cfg.Store, p.Kind)
	if err != nil {
		q.cfg.Logger.Warn("schedule catch-up: cannot read the last tick", "kind", p.Kind, "error", err.Error())
		return nil, nil
	}
	if last.IsZero() {
		return nil, nil
	}
	now, missed := time.Now(), time.Time{}
	for t, i := p.Next(last), 0; !t.IsZero() && !t.After(now) && i < maxCatchUpSteps; t, i = p.Next(t), i+1 {
		missed = t
	}
	if missed.IsZero() {
		return nil, nil
	}
	q.cfg.Logger.Info("schedule catch-up: running a missed tick", "kind", p.Kind, "tick", missed.UTC().Format(time.RFC3339))
	return q.tickJob(p, missed)
}

// maxCatchUpSteps bounds the walk from the last tick to now (a per-second schedule down
// for a day is 86,400 steps); past it, the tick reached is the one run.
const maxCatchUpSteps = 200_000

// ticksTable records, per periodic kind, the latest tick that started running.
const ticksTable = "kiln_schedule_ticks"

func migrateTicks(ctx context.Context, st *store.Store) error {
	return st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "CREATE TABLE IF NOT EXISTS "+ticksTable+" (kind TEXT PRIMARY KEY, last_tick BIGINT NOT NULL)")
	})
}

// recordTick notes that kind's tick started running.
func recordTick(ctx context.Context, st *store.Store, kind string, tick time.Time) error {
	return st.InTx(ctx, func(tx *store.Exec) error {
		return tx.ExecRaw(ctx, "INSERT INTO "+ticksTable+" (kind, last_tick) VALUES (?, ?) ON CONFLICT (kind) DO UPDATE "+
			"SET last_tick = excluded.last_tick WHERE "+ticksTable+".last_tick < excluded.last_tick", kind, tick.UnixMicro())
	})
}

func lastTick(ctx context.Context, st *store.Store, kind string) (time.Time, error) {
	rows, err := st.Reader().QueryRaw(ctx, "SELECT last_tick FROM "+ticksTable+" WHERE kind = ?", kind)
	if err != nil {
		return time.Time{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		return time.Time{}, rows.Err()
	}
	var micros int64
	if err := rows.Scan(&micros); err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(micros), rows.Close()
}

// quietCatchUp is River's logger without the line River writes each time a periodic job's
// constructor has nothing to insert ("nil returned from periodic job constructor, skipping"):
// a catch-up job with no missed tick does that on every start, and the line read as a fault.
type quietCatchUp struct{ slog.Handler }

func (h quietCatchUp) Handle(ctx context.Context, r slog.Record) error {
	if r.Level <= slog.LevelInfo && strings.Contains(r.Message, "nil returned from periodic job constructor") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietCatchUp) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietCatchUp{h.Handler.WithAttrs(attrs)}
}

func (h quietCatchUp) WithGroup(name string) slog.Handler {
	return quietCatchUp{h.Handler.WithGroup(name)}
}

// riverLogger is log for River's client (quietCatchUp); nil stays nil (River's default).
func riverLogger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return nil
	}
	return slog.New(quietCatchUp{log.Handler()})
}
