// Package service is the resource pipeline every transport calls: decode → validate →
// (authorize, hooks: later issues) → one transaction → result. It is the only place
// business steps are ordered; transports translate and never decide.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// PasswordHasher hashes account passwords (auth.Hasher).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
}

// Config wires a Service; Now and NewID default to the real clock and UUIDv7.
type Config struct {
	Spec   *spec.Spec
	Logger *slog.Logger
	Now    func() time.Time
	NewID  func() string
	// Passwords hashes the account resource's password input; without it passwords are refused.
	Passwords PasswordHasher
	// Changed, when set, hears of every committed update or delete (resource, id): caches
	// of records (the account role cache) drop them.
	Changed func(resource, id string)
	// Hooks, when set, run Go code before a write (in its transaction) and after its commit.
	Hooks Hooks
	// Rules and Logic, when set, are the spec's access rules and business logic already
	// compiled (by the spec's load): New compiles them itself when they are nil.
	Rules *expr.Rules
	Logic *logic.Logic
	// Jobs enqueues the jobs of the spec's triggers in the write's transaction; needed
	// when the spec declares triggers.
	Jobs JobQueue
	// Webhooks, when set, enqueues the deliveries of the webhook subscriptions an event
	// matches, in the write's transaction.
	Webhooks WebhookMatcher
	// Files, when set, deletes the stored files writes take out of records (needed when
	// the spec has file fields).
	Files FileKeeper
	// EventsCommittedFunc, when set, hears that a transaction which appended events committed
	// (live updates read the outbox at once).
	EventsCommittedFunc func()
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Service runs the pipeline for every resource of a spec.
type Service struct {
	spec            *spec.Spec
	store           *store.Store
	log             *slog.Logger
	now             func() time.Time
	newID           func() string
	resources       map[string]*resource
	rules           *expr.Rules // nil when the spec has no auth block
	passwords       PasswordHasher
	account         string // the account resource, when auth is on
	changed         func(resource, id string)
	scans           scanSlots
	logic           *logic.Logic
	hooks           Hooks
	inputs          map[string]*resource // action inputs, "resource/action"
	goActions       map[string]GoAction  // "resource/action"
	jobs            JobQueue
	webhooks        WebhookMatcher
	files           FileKeeper
	eventsCommitted func()
}

// resource is a spec resource with what the pipeline compiled for it at start.
type resource struct {
	*spec.Resource
	filter  *expr.Filter
	rules   []rules         // per field index
	indexed map[string]bool // fields that lead an index (cost estimates)
	// hasRollups: the record changes when its children do (read again after a write).
	hasRollups bool
	// hasFiles: the resource has file fields (writes hand their old values to the keeper).
	hasFiles bool
	// rollupSQL: the parents' rollups one UPDATE refreshes, by this resource's relation field.
	rollupSQL map[string][]store.RollupAgg
	// computesFromRollups: a computed field reads one of its rollups (refreshed through Go,
	// those fields computed again).
	computesFromRollups bool
	// eventKeys: the keys of the record's event JSON, in order (eventJSON); eventSize: the
	// capacity its buffer starts with.
	eventKeys []eventKey
	eventSize eventSize
	blindKeys []store.EventKey // eventKeys, for blind updates (write_blind.go)
	// share bounds the requests on the resource that hold database connections at once (newShare).
	share scanSlots
}

// New compiles every resource's filters and constraints.
func New(cfg Config, st *store.Store) (*Service, error) {
	cfg = cfg.withDefaults()
	s := &Service{spec: cfg.Spec, store: st, log: cfg.Logger, now: cfg.Now, newID: cfg.NewID,
		resources: map[string]*resource{}, passwords: cfg.Passwords, changed: cfg.Changed, scans: newScanSlots(),
		eventsCommitted: cfg.EventsCommittedFunc}
	if err := s.compile(cfg); err != nil {
		return nil, err
	}
	s.hooks, s.jobs, s.webhooks, s.files = cfg.Hooks, cfg.Jobs, cfg.Webhooks, cfg.Files
	s.inputs, s.goActions = map[string]*resource{}, map[string]GoAction{}
	for _, r := range cfg.Spec.Resources {
		res, err := newResource(r)
		if err != nil {
			return nil, err
		}
		res.rollupSQL = rollupSQL(r, s.logic.Resource(r.Name))
		res.computesFromRollups = computesFromRollups(r, s.logic.Resource(r.Name))
		if st != nil {
			res.share = newShare(st.Connections())
		}
		s.resources[r.Name] = res
		for _, a := range r.Actions {
			if s.inputs[r.Name+"/"+a.Name], err = newResource(a.InputResource(r.Name)); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// compile readies the access rules (with auth) and the business logic, unless cfg has them.
func (s *Service) compile(cfg Config) error {
	var err error
	if cfg.Spec.Auth != nil {
		s.rules, s.account = cfg.Rules, cfg.Spec.Auth.Account
		if s.rules == nil {
			if s.rules, err = expr.CompileRules(cfg.Spec); err != nil {
				return err
			}
		}
	}
	if s.logic = cfg.Logic; s.logic == nil {
		s.logic, err = logic.Compile(cfg.Spec)
	}
	return err
}

// newResource compiles a resource's filter environment and field constraints.
func newResource(r *spec.Resource) (*resource, error) {
	flt, err := expr.NewFilter(r)
	if err != nil {
		return nil, err
	}
	res := &resource{Resource: r, filter: flt, rules: make([]rules, len(r.Fields)), indexed: indexedFields(r), eventKeys: eventKeys(r)}
	res.blindKeys = storeKeys(res.eventKeys)
	for i, f := range r.Fields {
		res.hasRollups = res.hasRollups || f.Rollup != nil
		res.hasFiles = res.hasFiles || f.Type == spec.TypeFile
		if res.rules[i], err = compileRules(f); err != nil {
			return nil, fmt.Errorf("resource %s: %w", r.Name, err)
		}
	}
	return res, nil
}

// Spec returns the spec the service runs.
func (s *Service) Spec() *spec.Spec { return s.spec }

func (s *Service) resource(name string) (*resource, error) {
	r := s.resources[name]
	if r == nil {
		return nil, Errorf(CodeNotFound, "unknown resource %q", name)
	}
	return r, nil
}

func (s *Service) notify(resource, id string) {
	if s.changed != nil {
		s.changed(resource, id)
	}
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
