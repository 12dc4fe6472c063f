package jobs

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// KindStats are one kind's figures: Waiting, Running, Dead and OldestWaiting come from the
// database (the whole cluster); Completed, Failed and the run times from this process since
// it started.
type KindStats struct {
	Kind          string        `json:"kind"`
	Waiting       int64         `json:"waiting"` // available, scheduled, retryable
	Running       int64         `json:"running"`
	Dead          int64         `json:"dead"`
	Cancelled     int64         `json:"cancelled"` // until River's cleaner removes them (a day)
	OldestWaiting time.Duration `json:"-"`
	Completed     int64         `json:"completed"`
	Failed        int64         `json:"failed"` // failed attempts
	RunTimeTotal  time.Duration `json:"-"`
	RunTimeMax    time.Duration `json:"-"`
}

// MarshalJSON writes durations as milliseconds.
func (k KindStats) MarshalJSON() ([]byte, error) {
	type plain KindStats
	return json.Marshal(struct {
		plain
		OldestWaitingMS int64 `json:"oldest_waiting_ms"`
		RunTimeTotalMS  int64 `json:"run_time_total_ms"`
		RunTimeMaxMS    int64 `json:"run_time_max_ms"`
	}{plain(k), k.OldestWaiting.Milliseconds(), k.RunTimeTotal.Milliseconds(), k.RunTimeMax.Milliseconds()})
}

// MarshalJSON writes durations as milliseconds.
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	return json.Marshal(struct {
		plain
		OldestWaitingMS int64 `json:"oldest_waiting_ms"`
	}{plain(s), s.OldestWaiting.Milliseconds()})
}

// Stats are the queue's figures, per kind.
type Stats struct {
	// Staged counts writes whose jobs the relay has not moved into the queue yet (none for
	// long while a process runs workers).
	Staged        int64         `json:"staged"`
	Waiting       int64         `json:"waiting"`
	OldestWaiting time.Duration `json:"-"`
	Kinds         []KindStats   `json:"kinds"`
}

// stats counts what this process's workers did.
type stats struct {
	mu    sync.Mutex
	kinds map[string]*KindStats
}

func newStats() *stats { return &stats{kinds: map[string]*KindStats{}} }

func (s *stats) kind(name string) *KindStats {
	k := s.kinds[name]
	if k == nil {
		k = &KindStats{Kind: name}
		s.kinds[name] = k
	}
	return k
}

func (s *stats) record(ev *river.Event) {
	if ev == nil || ev.Job == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kind(ev.Job.Kind)
	switch ev.Kind {
	case river.EventKindJobCompleted:
		k.Completed++
	case river.EventKindJobFailed:
		k.Failed++
	}
	if ev.JobStats != nil {
		k.RunTimeTotal += ev.JobStats.RunDuration
		k.RunTimeMax = max(k.RunTimeMax, ev.JobStats.RunDuration)
	}
}

// watch records worker events and logs the figures every StatsInterval until ctx ends.
func (q *Queue) watch(ctx context.Context, events <-chan *river.Event) {
	var tick <-chan time.Time
	if q.cfg.StatsInterval > 0 {
		t := time.NewTicker(q.cfg.StatsInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			q.stats.record(ev)
		case <-tick:
			q.logStats(ctx)
		}
	}
}

func (q *Queue) logStats(ctx context.Context) {
	st, err := q.Stats(ctx)
	if err != nil {
		q.cfg.Logger.WarnContext(ctx, "job statistics unavailable", "error", err.Error())
		return
	}
	for _, k := range st.Kinds {
		q.cfg.Logger.InfoContext(ctx, "job queue", "kind", k.Kind, "waiting", k.Waiting, "running", k.Running, "dead", k.Dead,
			"oldest_waiting_ms", k.OldestWaiting.Milliseconds(), "completed", k.Completed, "failed", k.Failed,
			"run_time_total_ms", k.RunTimeTotal.Milliseconds(), "run_time_max_ms", k.RunTimeMax.Milliseconds())
	}
}

// Stats reads the queue's figures.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	counts, err := q.counts(ctx)
	if err != nil {
		return Stats{}, err
	}
	q.stats.mu.Lock()
	for name, k := range q.stats.kinds {
		c := counts[name]
		if c == nil {
			c = &KindStats{Kind: name}
			counts[name] = c
		}
		c.Completed, c.Failed, c.RunTimeTotal, c.RunTimeMax = k.Completed, k.Failed, k.RunTimeTotal, k.RunTimeMax
	}
	q.stats.mu.Unlock()
	out := Stats{Kinds: []KindStats{}} // [] when no kind has run or waits, never null
	for _, k := range counts {
		if k.Waiting > 0 {
			if k.OldestWaiting, err = q.oldestWaiting(ctx, k.Kind); err != nil {
				return Stats{}, err
			}
		}
		out.Waiting += k.Waiting
		out.OldestWaiting = max(out.OldestWaiting, k.OldestWaiting)
		out.Kinds = append(out.Kinds, *k)
	}
	sort.Slice(out.Kinds, func(i, j int) bool { return out.Kinds[i].Kind < out.Kinds[j].Kind })
	out.Staged, err = q.staged(ctx)
	return out, err
}

// counts reads how many jobs of each kind wait, run, are dead and were cancelled.
func (q *Queue) counts(ctx context.Context) (map[string]*KindStats, error) {
	rows, err := q.cfg.Store.Reader().QueryRaw(ctx, "SELECT kind, state, COUNT(*) FROM river_job "+
		"WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'discarded', 'cancelled') GROUP BY kind, state")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*KindStats{}
	for rows.Next() {
		var kind, state string
		var n int64
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return nil, err
		}
		k := out[kind]
		if k == nil {
			k = &KindStats{Kind: kind}
			out[kind] = k
		}
		switch state {
		case "running":
			k.Running += n
		case "discarded":
			k.Dead += n
		case "cancelled":
			k.Cancelled += n
		default:
			k.Waiting += n
		}
	}
	return out, rows.Err()
}

// oldestWaiting is how long the longest-waiting job of kind that is due has waited.
func (q *Queue) oldestWaiting(ctx context.Context, kind string) (time.Duration, error) {
	p := river.NewJobListParams().Kinds(kind).States("available", "retryable").
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1)
	res, err := q.ins.JobList(ctx, p)
	if err != nil || len(res.Jobs) == 0 {
		return 0, err
	}
	return max(time.Since(res.Jobs[0].ScheduledAt), 0), nil
}
