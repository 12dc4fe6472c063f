package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/kiln-dev/kiln/internal/store"
)

// Queue enqueues, runs and inspects jobs.
type Queue struct {
	cfg   Config
	kinds map[string]Kind
	// ins inserts (through the write's *sql.Tx) and serves the admin operations.
	ins *river.Client[*sql.Tx]
	// run works jobs: ins itself on SQLite, a pgx-native client on PostgreSQL.
	run     runner
	migrate func(ctx context.Context) error
	stats   *stats
	stop    func()
	done    chan struct{}
	poke    chan struct{} // wakes the relay
	pace    *pace         // SQLite: wakes River's listener (nil on PostgreSQL)
}

// runner is the part of a River client that works jobs, whatever its transaction type.
type runner interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	SubscribeConfig(cfg *river.SubscribeConfig) (<-chan *river.Event, func())
}

// ShutdownGrace is how long Stop lets running jobs finish before it cancels them.
const ShutdownGrace = 10 * time.Second

// New builds a Queue on cfg.Store. Without kinds it can enqueue nothing and run nothing,
// but it lists, retries and cancels jobs (the CLI).
func New(cfg Config) (*Queue, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, kinds: map[string]Kind{}, stats: newStats(), poke: make(chan struct{}, 1)}
	workers := river.NewWorkers()
	periodic := map[string]bool{}
	for _, p := range cfg.Periodic {
		periodic[p.Kind] = true
	}
	for _, k := range cfg.Kinds {
		q.kinds[k.Name] = k
		river.AddWorkerArgs(workers, dynArgs{kind: k.Name}, &worker{q: q, kind: k, periodic: periodic[k.Name]})
	}
	rc := q.riverConfig(workers)
	st := cfg.Store
	var err error
	switch st.Dialect() {
	case "sqlite":
		d := newSQLiteDriver(st.Writer(), st.Watcher())
		q.pace = d.pace
		if q.ins, err = river.NewClient[*sql.Tx](d, rc); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		q.run = q.ins
		q.migrate = func(ctx context.Context) error { return migrateWith(ctx, riversqlite.New(st.Writer())) }
	default:
		if q.ins, err = river.NewClient(riverdatabasesql.New(st.Writer()), &river.Config{Logger: cfg.Logger}); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		run, err := river.NewClient(riverpgxv5.New(st.Pool()), rc)
		if err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		q.run = run
		q.migrate = func(ctx context.Context) error { return migrateWith(ctx, riverpgxv5.New(st.Pool())) }
	}
	return q, nil
}

func (q *Queue) riverConfig(workers *river.Workers) *river.Config {
	c := &river.Config{
		ID:                   clientID(),
		FetchCooldown:        q.cfg.FetchCooldown,
		FetchPollInterval:    q.cfg.PollInterval,
		JobTimeout:           q.defaultTimeout(),
		RescueStuckJobsAfter: q.cfg.RescueAfter,
		// Kinds are checked by params; the relay inserts kinds another process staged.
		SkipUnknownJobCheck:         true,
		CompletedJobRetentionPeriod: q.cfg.CompletedRetention,
		MaxAttempts:                 defaultMaxAttempts,
		SoftStopTimeout:             ShutdownGrace,
		Logger:                      riverLogger(q.cfg.Logger),
	}
	if len(q.kinds) > 0 {
		c.Workers = workers
		c.Queues = map[string]river.QueueConfig{}
		for name, n := range q.cfg.Queues {
			c.Queues[name] = river.QueueConfig{MaxWorkers: n}
		}
		c.PeriodicJobs = q.periodicJobs()
	}
	return c
}

const defaultMaxAttempts = 10

// clientID names this process's River client, as River's leader table and job attempts
// show it: host, process id and start time.
func clientID() string {
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	return fmt.Sprintf("%s_pid%d_%d", cmp.Or(host, "host"), os.Getpid(), time.Now().UnixNano())
}

// defaultTimeout bounds a job whose kind sets no timeout: a minute, or half of RescueAfter
// when that is shorter, so a running job is never rescued while it may still finish.
func (q *Queue) defaultTimeout() time.Duration { return min(time.Minute, q.cfg.RescueAfter/2) }

func migrateWith[TTx any](ctx context.Context, d riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(d, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("jobs: migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate the queue's tables: %w", err)
	}
	return nil
}

// Migrate creates or updates the queue's tables (River's own versioned migrations), holding
// the cluster-wide migration lock on PostgreSQL so instances starting together take turns.
func (q *Queue) Migrate(ctx context.Context) error {
	unlock, err := q.cfg.Store.Lock(ctx, "kiln_jobs_migrate", nil)
	if err != nil {
		return err
	}
	defer unlock()
	if err := q.migrate(ctx); err != nil {
		return err
	}
	if err := migrateOutbox(ctx, q.cfg.Store); err != nil {
		return err
	}
	return migrateTicks(ctx, q.cfg.Store)
}

// EnqueueTx enqueues r inside tx, the transaction of the write that causes it: the job
// exists exactly when tx commits. It returns the job's id.
func (q *Queue) EnqueueTx(ctx context.Context, tx *store.Exec, r Request) (int64, error) {
	sqlTx, err := tx.Tx()
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", r.Kind, err)
	}
	args, opts, err := q.params(r)
	if err != nil {
		return 0, err
	}
	res, err := q.ins.InsertTx(ctx, sqlTx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", r.Kind, err)
	}
	q.wakeAfter(tx)
	return res.Job.ID, nil
}

// EnqueueManyTx enqueues several jobs inside tx in one statement batch.
func (q *Queue) EnqueueManyTx(ctx context.Context, tx *store.Exec, rs []Request) error {
	return q.enqueueMany(ctx, tx, rs, false)
}

// enqueueMany inserts rs; anyKind lets through kinds this process has no handler for (the
// relay: another process, running a newer or older spec, may have staged them, and a worker
// that knows the kind runs it).
func (q *Queue) enqueueMany(ctx context.Context, tx *store.Exec, rs []Request, anyKind bool) error {
	sqlTx, err := tx.Tx()
	if err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(rs), err)
	}
	params := make([]river.InsertManyParams, len(rs))
	for i, r := range rs {
		args, opts, err := q.paramsOf(r, anyKind)
		if err != nil {
			return err
		}
		params[i] = river.InsertManyParams{Args: args, InsertOpts: opts}
	}
	if _, err := q.ins.InsertManyTx(ctx, sqlTx, params); err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(rs), err)
	}
	q.wakeAfter(tx)
	return nil
}

// wakeAfter has River's SQLite listener read its table once tx commits: River noted the
// jobs tx inserted there, and this process's workers hear of them without waiting.
func (q *Queue) wakeAfter(tx *store.Exec) {
	if q.pace != nil {
		tx.AfterCommit(q.pace.wake)
	}
}

// Enqueue enqueues r in a transaction of its own.
func (q *Queue) Enqueue(ctx context.Context, r Request) (int64, error) {
	var id int64
	err := q.cfg.Store.InTx(ctx, func(tx *store.Exec) error {
		var err error
		id, err = q.EnqueueTx(ctx, tx, r)
		return err
	})
	return id, err
}

func (q *Queue) params(r Request) (dynArgs, *river.InsertOpts, error) { return q.paramsOf(r, false) }

func (q *Queue) paramsOf(r Request, anyKind bool) (dynArgs, *river.InsertOpts, error) {
	if _, ok := q.kinds[r.Kind]; !ok && !anyKind {
		return dynArgs{}, nil, fmt.Errorf("%w: %s", ErrUnknownKind, r.Kind)
	}
	raw, err := json.Marshal(r.Args)
	if err != nil {
		return dynArgs{}, nil, fmt.Errorf("encode the args of %s: %w", r.Kind, err)
	}
	opts := &river.InsertOpts{Queue: r.Queue, Priority: r.Priority, MaxAttempts: r.MaxAttempts}
	if opts.Queue == "" {
		opts.Queue = DefaultQueue
	}
	if opts.MaxAttempts == 0 { // the same default whichever River client inserts
		opts.MaxAttempts = defaultMaxAttempts
	}
	if r.Unique {
		opts.UniqueOpts = river.UniqueOpts{ByArgs: true}
	}
	return dynArgs{kind: r.Kind, raw: raw}, opts, nil
}

// Start runs workers until Stop. Statistics are logged every StatsInterval.
func (q *Queue) Start(ctx context.Context) error {
	if len(q.kinds) == 0 {
		return errors.New("jobs: no job kinds to work")
	}
	// River drops an event its subscriber has no room for; it completes at most 5,000 jobs a
	// batch and holds up to 10,000 waiting, and watch only counts: room for two full batches.
	// (The buffer is held for the process's life: 100,000 events cost 0.8 MB of idle heap.)
	events, cancel := q.run.SubscribeConfig(&river.SubscribeConfig{ChanSize: 10_000,
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled}})
	if err := q.run.Start(context.WithoutCancel(ctx)); err != nil {
		cancel()
		return fmt.Errorf("jobs: start workers: %w", err)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	q.stop, q.done = stop, make(chan struct{})
	relayed := make(chan struct{})
	go func() { defer close(relayed); q.relay(bg) }()
	go func() {
		defer close(q.done)
		defer cancel()
		defer func() { <-relayed }()
		q.watch(bg, events)
	}()
	return nil
}

// Stop stops fetching jobs and waits for running ones: they get ShutdownGrace to finish,
// then their contexts are cancelled and they are released to run again. ctx bounds the
// whole wait.
func (q *Queue) Stop(ctx context.Context) error {
	if q.stop == nil {
		return nil
	}
	err := q.run.Stop(ctx)
	if err != nil {
		err = errors.Join(err, q.run.StopAndCancel(context.WithoutCancel(ctx)))
	}
	q.stop()
	<-q.done
	return err
}

// Kinds is how many job kinds the queue runs.
func (q *Queue) Kinds() int { return len(q.kinds) }

// Store is the store the queue lives in.
func (q *Queue) Store() *store.Store { return q.cfg.Store }
