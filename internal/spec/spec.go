// Package spec holds Kiln's spec model: the types a kiln.yaml file declares, the strict YAML
// parser that reports every problem with file:line:col, and the normalization every other layer
// relies on. The model is the single source of truth for tables, routes and documents.
package spec

import (
	"fmt"
	"github.com/kiln-dev/kiln/internal/mail"
	"net/netip"
	"slices"
	"time"

	"github.com/kiln-dev/kiln/internal/ratelimit"
)

// FieldType is the declared type of a field.
type FieldType string

// Field types of spec v1.
const (
	TypeString   FieldType = "string"
	TypeText     FieldType = "text"
	TypeInteger  FieldType = "integer"
	TypeNumber   FieldType = "number"
	TypeDecimal  FieldType = "decimal"
	TypeBoolean  FieldType = "boolean"
	TypeDatetime FieldType = "datetime"
	TypeDate     FieldType = "date"
	TypeEnum     FieldType = "enum"
	TypeJSON     FieldType = "json"
	TypeUUID     FieldType = "uuid"
	TypeEmail    FieldType = "email"
	TypeURL      FieldType = "url"
	TypeRelation FieldType = "relation"
	TypeFile     FieldType = "file"
)

// RelationKind says how a relation field links two resources.
type RelationKind int

// Relation kinds.
const (
	RelNone    RelationKind = iota
	RelToOne                // N:1 (1:1 when unique): a foreign-key column on this table
	RelToMany               // N:M through a join table Kiln owns
	RelInverse              // 1:N, the read-only inverse of another resource's to-one relation
)

// Pos is a position in a spec file.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String renders the position as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column) }

// Spec is a parsed, validated and normalized Kiln spec.
type Spec struct {
	File      string
	Name      string
	Database  Database
	Server    Server
	Auth      *Auth // nil: the spec declares no accounts
	Redis     Redis
	Jobs      Jobs
	Schedules []*Schedule
	Mail      Mail
	Storage   Storage
	Webhooks  Webhooks
	Payments  Payments
	Roles     []string
	Resources []*Resource
	byName    map[string]*Resource
}

// Database configures the store. URL empty means embedded SQLite in the data dir.
type Database struct {
	URL string
}

// Server holds HTTP settings declared in the spec.
type Server struct {
	BasePath     string
	MaxBodyBytes int64
	CORS         CORS
	RateLimits   RateLimits
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed for client addresses.
	TrustedProxies []netip.Prefix
	// QueryTimeout bounds every database query a request runs (default DefaultQueryTimeout).
	QueryTimeout time.Duration
	// TLS, when set, makes Kiln serve HTTPS itself.
	TLS TLS
	// BehindTLS says a proxy in front terminates TLS: responses carry HSTS.
	BehindTLS bool
	// HSTSMaxAge is Strict-Transport-Security's max-age when TLS is on (default a year).
	HSTSMaxAge time.Duration
	// IdempotencyTTL is how long answers to Idempotency-Key requests are kept (default 24h).
	IdempotencyTTL time.Duration
	// BatchMax bounds the operations of one POST {base}/batch (default 50).
	BatchMax int
}

// Server defaults.
const (
	DefaultQueryTimeout = 5 * time.Second
	DefaultHSTSMaxAge   = 365 * 24 * time.Hour
	// DefaultIdempotencyTTL keeps Idempotency-Key answers a day.
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultBatchMax bounds a batch's operations.
	DefaultBatchMax = 50
)

// TLS names the certificate and key files Kiln serves HTTPS with.
type TLS struct {
	CertFile string
	KeyFile  string
}

// Enabled reports whether Kiln serves TLS itself.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// RateLimits are request budgets; a zero Limit means no limit.
type RateLimits struct {
	Anonymous ratelimit.Limit // per client address, for requests without credentials
	Account   ratelimit.Limit // per account
	APIKey    ratelimit.Limit // per API key; the account limit when unset
	Auth      ratelimit.Limit // per client address, on the auth endpoints
	// PasswordReset budgets reset requests per client address; PasswordResetEmail per email.
	// Their own budgets: resets never count as failed logins.
	PasswordReset      ratelimit.Limit
	PasswordResetEmail ratelimit.Limit
}

// DefaultRateLimits apply when the spec does not set a budget: password-reset requests are
// limited even in a spec without rate_limits, since each one sends a mail.
var DefaultRateLimits = RateLimits{
	PasswordReset:      ratelimit.Limit{Requests: 10, Window: time.Hour},
	PasswordResetEmail: ratelimit.Limit{Requests: 5, Window: time.Hour},
}

// Redis configures the shared Redis; empty URL means everything stays in process. Redis is
// an accelerator, never required: see docs/scaling.md for what each instance does while it is out.
type Redis struct {
	URL    string
	Prefix string
	// Timeout bounds each Redis call; 0 means the default (50 ms).
	Timeout time.Duration
	// TripAfter is how many failed calls in a row make an instance stop calling Redis; 0 means 3.
	TripAfter int
	// ProbeInterval is how often an instance that stopped calling Redis checks whether it is
	// back; 0 means 1 s.
	ProbeInterval time.Duration
}

// CORS lists the cross-origin settings; no origins means CORS is off.
type CORS struct {
	Origins     []string
	Methods     []string
	Headers     []string
	Credentials bool
	MaxAge      int
}

// Raw keeps a reserved block verbatim, with its position.
type Raw struct {
	Pos   Pos
	Value any
}

// Resource is one declared resource (one table, one set of routes).
type Resource struct {
	Pos     Pos
	Name    string // plural, used in paths and as the table name
	Fields  []*Field
	Indexes []*Index
	Access  map[Action]*Rule // per action; an action without a rule is denied when auth is on
	Rules   []*LogicRule
	Effects []*Effect
	Actions []*RecordAction
	// Triggers run jobs on the resource's events (docs/jobs.md).
	Triggers []*Trigger
	// SoftDelete keeps deleted records (hidden from every read, restorable) for Retention.
	SoftDelete bool
	Retention  time.Duration
	// Payable, when set, makes records payable (docs/integrations.md#payments).
	Payable *Payable
	byName  map[string]*Field
}

// RecordAction returns the named action, or nil.
func (r *Resource) RecordAction(name string) *RecordAction {
	for _, a := range r.Actions {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Action is what a request does to a resource.
type Action string

// Actions a rule can govern.
const (
	ActionList   Action = "list"
	ActionView   Action = "view"
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Actions lists every action in a fixed order.
var Actions = []Action{ActionList, ActionView, ActionCreate, ActionUpdate, ActionDelete}

// Rule is the access rule of one action: public, any of a list of roles, or a CEL
// expression over auth (id, role, roles) and record (the resource's fields).
type Rule struct {
	Pos    Pos
	Public bool
	Roles  []string
	Expr   string
}

// Auth configures accounts, sign-up and tokens. Secrets never live here: the signing
// secret comes from the environment.
type Auth struct {
	Pos          Pos
	Account      string // the account resource
	Signup       string // open, invite or off
	DefaultRole  string
	AccessTTL    time.Duration
	RefreshTTL   time.Duration
	RefreshGrace time.Duration
	Issuer       string
	Audience     string
	Providers    []*Provider
	// Mails are template files (relative to the spec) replacing the built-in account mails,
	// by kind (AuthMailKinds); MailTemplates are them parsed, once the spec is valid.
	Mails         map[string]string
	MailsPos      Pos
	MailTemplates map[string]*mail.Template
	// PublicURL is where clients reach this API (for OAuth redirect URIs), e.g. https://api.example.com.
	PublicURL string
	// AdminRoles administer: they set roles, verified and disabled on accounts, reset other
	// accounts' passwords, invite and manage API keys. Default: admin, else the first role.
	AdminRoles []string
}

// IsAdmin reports whether role is one of the administering roles.
// AuthMailKinds are the account mails a spec may replace with its own templates.
var AuthMailKinds = []string{"verify", "confirm_new_email", "email_changed", "reset", "invite"}

func (a *Auth) IsAdmin(role string) bool { return a != nil && slices.Contains(a.AdminRoles, role) }

// Provider is an OAuth2/OIDC login provider. Secrets come through ${VAR}.
type Provider struct {
	Pos          Pos
	Name         string // in the login URLs
	Issuer       string // OIDC discovery base URL; set by presets
	ClientID     string
	ClientSecret string
	Scopes       []string
	// GitHub (preset: github) speaks OAuth2 without OIDC: these endpoints replace discovery.
	// They default to github.com; set them for GitHub Enterprise Server.
	GitHub   bool
	AuthURL  string
	TokenURL string
	APIURL   string
}

// Field is one declared field of a resource.
type Field struct {
	Pos        Pos
	Name       string
	Type       FieldType
	Required   bool
	Unique     bool
	Readonly   bool
	Hidden     bool
	Default    any // typed like a decoded JSON value: string, bool, json.Number, nil
	HasDefault bool
	// Example is a valid value documents and derived tests use instead of a made-up one, e.g.
	// a stock large enough for the derived orders to pass the in-stock rule.
	Example   *string
	Min, Max  *string // exact decimal text so decimals keep their precision
	MinLength *int
	MaxLength *int
	Pattern   string
	Values    []string // enum values
	Precision int      // decimal digits in all
	Scale     int      // decimal digits after the point
	Relation  *Relation
	// precisionSet and scaleSet say the spec gives precision and scale: absent they default
	// (18 and 2), given they must fit (0 and negatives included).
	precisionSet, scaleSet bool
	// Write lists the roles that may set the field; empty means anyone allowed to write the record.
	Write []string
	// AllowHidden lets a relation point at records the writer may not view; by default such
	// a target is treated exactly like a missing one, so writes cannot probe for ids.
	AllowHidden bool
	// Compute makes a stored field recalculated from CEL on every write (read-only).
	Compute Expr
	// DefaultExpr is a CEL default, evaluated on create when the field is absent.
	DefaultExpr Expr
	// Rollup keeps the field equal to an aggregate of children (read-only).
	Rollup *Rollup
	// Transitions make an enum a state machine; Initial lists the states a record may
	// start in (default: any).
	Transitions []*Transition
	Initial     []string
	// Nested lets a create carry the children of an inverse relation inline.
	Nested bool
	// System marks fields Kiln adds to the account resource.
	System bool
	// File holds a file field's options (type: file).
	File *FileOpts
}

// Relation describes a relation field.
type Relation struct {
	Kind    RelationKind
	To      string // target resource name
	Inverse string // for RelInverse: the to-one field on the target that points back here
	// Many is set on a RelInverse whose Inverse is a to-many (N:M) field of the target: the
	// inverse reads the target's link table from the other end (tags ← products).
	Many bool
}

// Index is a declared index.
type Index struct {
	Pos    Pos
	Name   string
	Fields []string
	Unique bool
}

// Resource returns the named resource, or nil.
func (s *Spec) Resource(name string) *Resource { return s.byName[name] }

// HasFiles reports whether any resource of s has a file field: the server then stores files,
// serves them and runs the job that deletes them, and the OpenAPI document says so.
func (s *Spec) HasFiles() bool {
	for _, r := range s.Resources {
		for _, f := range r.Fields {
			if f.Type == TypeFile {
				return true
			}
		}
	}
	return false
}

// Field returns the named field, or nil.
func (r *Resource) Field(name string) *Field { return r.byName[name] }

// Column returns the SQL column name of a field stored on the resource's table,
// or "" for fields that live elsewhere (to-many and inverse relations).
func (f *Field) Column() string {
	if f.Relation == nil {
		return f.Name
	}
	if f.Relation.Kind == RelToOne {
		return f.Name + "_id"
	}
	return ""
}

// Stored reports whether the field is a column of its resource's table.
func (f *Field) Stored() bool { return f.Column() != "" }

// StoredAsJSON reports fields kept as JSON text: json fields and file fields (whose value
// describes the stored files). They cannot be filtered, sorted or compared in SQL.
func (f *Field) StoredAsJSON() bool { return f.Type == TypeJSON || f.Type == TypeFile }

// IsToMany reports whether the field is an N:M relation.
func (f *Field) IsToMany() bool { return f.Relation != nil && f.Relation.Kind == RelToMany }

// Derived reports whether the server alone sets the field's value (computed or rollup).
func (f *Field) Derived() bool { return f.Compute.Set() || f.Rollup != nil }

// IsChildren reports whether the field is a 1:N inverse: the target's records whose to-one
// field points here (nested creates, rollups and effects' each read these).
func (f *Field) IsChildren() bool { return f.IsInverse() && !f.Relation.Many }

// IsInverse reports whether the field is a read-only inverse relation (1:N, or N:M when
// Relation.Many).
func (f *Field) IsInverse() bool { return f.Relation != nil && f.Relation.Kind == RelInverse }

// JoinTable names the join table of an N:M field and its two key columns.
func (r *Resource) JoinTable(f *Field) (table, selfCol, otherCol string) {
	return r.Name + "_" + f.Name, "source_id", "target_id"
}

// Link names the link table that holds an N:M field's pairs — its own for a to-many field,
// the target's for the inverse of one — with the column holding this resource's ids and the
// column holding the related ids. ok is false for fields without a link table.
func (r *Resource) Link(f *Field) (table, selfCol, otherCol string, ok bool) {
	switch {
	case f.IsToMany():
		table, selfCol, otherCol = r.JoinTable(f)
		return table, selfCol, otherCol, true
	case f.IsInverse() && f.Relation.Many:
		return f.Relation.To + "_" + f.Relation.Inverse, "target_id", "source_id", true
	}
	return "", "", "", false
}

// SystemFields are present on every record and cannot be declared.
var SystemFields = []string{"id", "created_at", "updated_at"}

// DefaultRetention is how long a soft-deleted record is kept when the spec says nothing.
const DefaultRetention = 30 * 24 * time.Hour

// RetentionOrDefault is how long a soft-deleted record of r is kept before it is purged.
func (r *Resource) RetentionOrDefault() time.Duration {
	if r.Retention > 0 {
		return r.Retention
	}
	return DefaultRetention
}
