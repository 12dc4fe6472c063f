// Package kiln is the public Go API of Kiln: build an App from a spec, then run it or mount
// its handler. Everything else lives under internal/ and is wired here, in one place.
package kiln

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/files"
	"github.com/kiln-dev/kiln/internal/idempotency"
	"github.com/kiln-dev/kiln/internal/integrations/payments"
	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/live"
	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/mail"
	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/openapi"
	"github.com/kiln-dev/kiln/internal/redisguard"
	"github.com/kiln-dev/kiln/internal/server"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Config says which spec to run and where its data lives.
type Config struct {
	// SpecPath is the kiln.yaml file.
	SpecPath string
	// DataDir holds the embedded SQLite database (kiln.db); default "kiln_data".
	DataDir string
	// DatabaseURL overrides the spec's database.url; a postgres:// URL selects PostgreSQL.
	DatabaseURL string
	// MigrationsDir holds migration files; default "migrations" beside the spec.
	MigrationsDir string
	// Dev plans and applies migrations at start instead of refusing a database behind the spec.
	Dev bool
	// Logger receives structured logs; a discarding logger when nil.
	Logger *slog.Logger
	// LookupEnv resolves ${VAR} in the spec; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// Progress, when set, is told about each migration applied at start.
	Progress func(msg string)
	// Waiting, when set, is told while another instance holds the migration lock (start-up and
	// the migrate commands wait for it, then find nothing left to apply).
	Waiting func(msg string)
	// AuthSecret signs tokens (32+ bytes); KILN_AUTH_SECRET when empty. Dev mode makes a
	// temporary one; production refuses to start without it.
	AuthSecret string
	// NoTokens is for a program that administers accounts but serves no requests (as kiln
	// users does): it starts without AuthSecret or KILN_AUTH_SECRET (tokens it signed would be
	// valid nowhere) and keeps no watch on revoked tokens. Never set it where the API is served.
	NoTokens bool
	// TLSCertFile and TLSKeyFile make the app serve HTTPS, overriding the spec's server.tls.
	TLSCertFile, TLSKeyFile string
	// NoRateLimits turns the spec's rate limits off, for tests that send many requests from
	// one address (kiln test and kilntest set it).
	NoRateLimits bool
	// Extensions are a Go program's hooks, Go actions, job handlers and routes (nil: none).
	Extensions *Extensions
	// Admin marks a program that works on the database of an app served elsewhere (an admin
	// tool, a one-off script, as kiln jobs, keys, users and seed are): it leaves the webhook
	// subscriptions as the serving processes stored them. Without it every New stores them
	// from its own spec and environment, so a process missing the URL's ${VAR} rewrites (or
	// deletes) the subscription the running servers deliver to.
	Admin bool
	// NoWorkers keeps Serve from working jobs (they are still enqueued): another process
	// runs them (kiln worker, or your Go program). Set it in a process that never works jobs:
	// New then accepts a spec naming handlers Extensions does not register (RunWorkers still
	// refuses them).
	NoWorkers bool
	// Serving, when set, is called once Serve has started what it runs beside the server
	// (workers, sweepers) and is about to answer requests: a place to report readiness or to
	// do work that must wait for start-up (kiln serve gives back the memory start-up used).
	Serving func()
	// webhookSchedule replaces the Standard Webhooks retry schedule; only tests set it
	// (export_test.go), so no configuration can weaken production's.
	webhookSchedule []time.Duration
	// paymentsNow is the payments' clock (Checkout Sessions' expiry); only tests set it.
	paymentsNow func() time.Time
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = "kiln_data"
	}
	if c.MigrationsDir == "" {
		c.MigrationsDir = filepath.Join(filepath.Dir(c.SpecPath), "migrations")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
	return c
}

// ErrBehind means the database schema does not match the spec and dev mode is off.
var ErrBehind = errors.New("the database is behind the spec")

// App is a running Kiln backend: spec, store, service and HTTP server.
type App struct {
	Spec     *spec.Spec
	Store    *store.Store
	Service  *service.Service
	Migrator *migrate.Migrator
	// Accounts runs sign-up, login and tokens; nil when the spec has no auth block.
	Accounts *auth.Accounts
	// Jobs is the job queue: triggers enqueue into it, workers run it.
	Jobs     *jobs.Queue
	sender   mail.Sender        // the spec's mail provider
	mailKey  []byte             // seals account mails (they carry codes) in their jobs' args
	webhooks *webhooks.Webhooks // nil when the spec has no webhooks
	files    *files.Files       // nil when the spec has no file fields
	payments *payments.Payments // nil when the spec has no payments
	live     *live.Broker       // live updates: the outbox fanned out to streams
	notifier *store.Notifier    // NOTIFY after commits that appended events (PostgreSQL)
	workers  bool
	serving  func()
	server   *server.Server
	log      *slog.Logger
	closers  []func() error
	oidc     *auth.OIDC
	redis    *redisguard.Guard // nil without redis.url
	idem     *idempotency.Store
	compiled compiledSpec // the rules and logic loadSpec compiled, handed to the service
	// routeDocs are the Go program's custom routes as the OpenAPI document lists them.
	routeDocs []openapi.Route
	// unregistered names the spec's Go handlers Extensions does not register; RunWorkers
	// refuses to work their jobs
	unregistered error
}

// LoadSpec parses and validates a spec file, access-rule expressions included.
func LoadSpec(path string, lookupEnv func(string) (string, bool)) (*spec.Spec, error) {
	c, err := loadSpec(path, lookupEnv)
	return c.spec, err
}

// compiledSpec is a spec with its access rules and business logic compiled, so that New
// compiles each expression once (CEL type-checking is most of a start's CPU time).
type compiledSpec struct {
	spec  *spec.Spec
	rules *expr.Rules
	logic *logic.Logic
}

func loadSpec(path string, lookupEnv func(string) (string, bool)) (compiledSpec, error) {
	s, err := spec.Load(path, spec.ParseOpts{LookupEnv: lookupEnv})
	if err != nil {
		return compiledSpec{}, err
	}
	rules, err := expr.CompileRules(s)
	if err != nil {
		return compiledSpec{}, err
	}
	lg, err := logic.Compile(s)
	if err != nil {
		return compiledSpec{}, err
	}
	return compiledSpec{spec: s, rules: rules, logic: lg}, nil
}

// OpenStore opens the database cfg points at, without checking its schema.
func OpenStore(ctx context.Context, cfg Config, s *spec.Spec) (*store.Store, *migrate.Migrator, error) {
	cfg = cfg.withDefaults()
	url := cfg.DatabaseURL
	if url == "" {
		url = s.Database.URL
	}
	if url != "" && !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, nil, errors.New("database URL must start with postgres:// (leave it empty for embedded SQLite)")
	}
	st, err := store.Open(ctx, store.Config{URL: url, SQLitePath: filepath.Join(cfg.DataDir, "kiln.db")}, s)
	if err != nil {
		return nil, nil, err
	}
	return st, migrate.New(migrate.Config{Dir: cfg.MigrationsDir, Waiting: cfg.Waiting}, st), nil
}

// New loads the spec, opens the database, brings or checks its schema, and builds the server.
func New(ctx context.Context, cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	c, err := loadSpec(cfg.SpecPath, cfg.LookupEnv)
	if err != nil {
		return nil, err
	}
	s := c.spec
	if cfg.NoRateLimits {
		s.Server.RateLimits = spec.RateLimits{}
	}
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
			return nil, errors.New("serving TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
		}
		s.Server.TLS = spec.TLS{CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSKeyFile}
	}
	unregistered := checkHandlers(cfg, s)
	if unregistered != nil && !cfg.NoWorkers {
		return nil, unregistered // before the database: this process would work those jobs
	}
	st, m, err := OpenStore(ctx, cfg, s)
	if err != nil {
		return nil, err
	}
	app := &App{Spec: s, Store: st, Migrator: m, log: cfg.Logger, compiled: c, unregistered: unregistered}
	if err := app.assemble(ctx, cfg); err != nil {
		_ = app.Close()
		return nil, err
	}
	return app, nil
}

// assemble readies the schema and wires everything that runs on the store.
func (a *App) assemble(ctx context.Context, cfg Config) error {
	if err := a.prepareSchema(ctx, cfg); err != nil {
		return err
	}
	if err := a.Store.PrepareStatements(ctx); err != nil {
		return err
	}
	if err := a.connectRedis(cfg); err != nil {
		return err
	}
	sender, err := newSender(cfg, a.Spec.Mail)
	if err != nil {
		return err
	}
	a.sender = sender
	a.workers, a.serving = !cfg.NoWorkers, cfg.Serving
	if err := a.newQueue(ctx, cfg); err != nil {
		return err
	}
	lv, err := live.New(live.Config{Store: a.Store, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	a.live = lv
	a.closers = append(a.closers, a.live.Close)
	a.notifier = a.Store.NewNotifier(events.Channel)
	a.closers = append(a.closers, a.notifier.Close)
	if err := a.build(ctx, cfg); err != nil {
		return err
	}
	if err := a.newPayments(cfg); err != nil {
		return err
	}
	a.idem = idempotency.New(idempotency.Config{TTL: a.Spec.Server.IdempotencyTTL}, a.Store)
	a.routeDocs = routeDocs(cfg.Extensions)
	return a.newServer(cfg)
}

// newServer builds the HTTP server; a custom route that clashes with the spec's routes or
// does not parse is an error, not a panic.
func (a *App) newServer(cfg Config) (err error) {
	defer func() {
		if p := recover(); p != nil { // net/http panics on such a pattern
			err = fmt.Errorf("custom route: %v", p)
		}
	}()
	sc := server.Config{Spec: a.Spec, Service: a.Service, Store: a.Store, Logger: cfg.Logger,
		Accounts: a.Accounts, Limiter: a.limiter(), OIDC: a.oidc, Idempotency: a.idem, Routes: a.routes(cfg.Extensions, cfg.Logger), RouteDocs: a.routeDocs, Jobs: a.Jobs,
		Live: a.live, Files: a.files}
	if w := a.webhooks; w != nil {
		if w.Enabled() {
			sc.Webhooks, sc.WebhookLog = w, w
		}
		if len(a.Spec.Webhooks.Incoming) > 0 {
			sc.Incoming = w
		}
	}
	if a.payments != nil {
		sc.Payments = payRoutes{a: a}
	}
	a.server, err = server.New(sc)
	return err
}

func (a *App) prepareSchema(ctx context.Context, cfg Config) error {
	desired := migrate.FromSpec(a.Spec)
	if cfg.Dev {
		return a.Migrator.Dev(ctx, desired, false, func(f migrate.File) {
			if cfg.Progress != nil {
				cfg.Progress(fmt.Sprintf("applied migration %04d_%s", f.Version, f.Name))
			}
		})
	}
	plan, err := a.Migrator.Check(ctx, desired)
	if err != nil {
		return err
	}
	if plan.Empty() {
		return nil
	}
	pending, err := a.Migrator.Pending(ctx)
	if errors.Is(err, migrate.ErrDuplicateVersion) {
		return err // planning fails on it too: "run kiln migrate plan" would not help
	}
	if err == nil && len(pending) > 0 {
		names := make([]string, len(pending))
		for i, f := range pending {
			names[i] = fmt.Sprintf("%04d_%s", f.Version, f.Name)
		}
		return fmt.Errorf("%w: %d migration file(s) in %s are not applied yet (%s): run `kiln migrate up`, or serve with --dev",
			ErrBehind, len(pending), a.Migrator.Dir(), strings.Join(names, ", "))
	}
	var lines []string
	for _, c := range plan.Changes {
		lines = append(lines, "  - "+c.Description)
	}
	return fmt.Errorf("%w; it differs by:\n%s\nrun `kiln migrate plan` then `kiln migrate up`, or serve with --dev",
		ErrBehind, strings.Join(lines, "\n"))
}

// Handler is the app's HTTP handler, to mount in another server or test with httptest.
func (a *App) Handler() http.Handler { return a.server.Handler() }

// Serve serves on ln until ctx ends, then drains in-flight requests and stops the workers
// (running jobs get 10 seconds to finish, then are cancelled and released to run again). Unless Config.NoWorkers, it works jobs; expired Idempotency-Key answers
// and old events are swept while it serves.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	sweepCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { defer func() { done <- struct{}{} }(); a.sweep(sweepCtx) }()
	go func() { defer func() { done <- struct{}{} }(); a.sweepEvents(sweepCtx) }()
	defer func() { stop(); <-done; <-done }()
	a.checkStorage(ctx)
	if a.workers && a.Jobs.Kinds() > 0 {
		if err := a.Jobs.Start(ctx); err != nil {
			return err
		}
		defer func() {
			if err := a.stopWorkers(); err != nil {
				a.log.Warn("workers did not stop cleanly", "error", err.Error())
			}
		}()
	}
	if a.serving != nil {
		a.serving()
	}
	return a.server.Serve(ctx, ln)
}

// Run listens on addr and serves until ctx ends.
func (a *App) Run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.log.Info("listening", "addr", ln.Addr().String())
	return a.Serve(ctx, ln)
}

// Close closes the database and the Redis connection.
func (a *App) Close() error {
	for i := len(a.closers) - 1; i >= 0; i-- { // the reverse of the order things started in
		_ = a.closers[i]()
	}
	return a.Store.Close()
}
