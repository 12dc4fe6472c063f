package spec

import (
	"net/netip"
	"strings"
	"time"
)

// Webhooks configures outgoing and incoming webhooks (docs/integrations.md#webhooks).
type Webhooks struct {
	// Enabled is set when the spec has a webhooks: key, even an empty list: the
	// subscriptions tables and the admin webhooks API exist then.
	Enabled bool
	// Subscriptions are the outgoing subscriptions the spec declares.
	Subscriptions []*Webhook
	// AllowNetworks lets deliveries reach addresses the SSRF guard refuses otherwise
	// (loopback, private, link-local…), by IP address or CIDR prefix.
	AllowNetworks []netip.Prefix
	// Incoming are verified endpoints receiving other systems' webhooks.
	Incoming []*IncomingWebhook
}

// Webhook is an outgoing subscription declared in the spec.
type Webhook struct {
	Pos  Pos
	Name string
	URL  string
	// Events are patterns "resource.operation" (create, update, delete or an action's
	// name), "resource.*" or "*".
	Events []string
	// When is a CEL condition over old and new, like a trigger's; it needs the events of
	// one resource.
	When Expr
	// Type is the event type a delivery carries (default "resource.operation").
	Type string
	// SecretEnv names the environment variable holding the whsec_ secret; several
	// space-separated secrets all sign (rotation). Never the secret itself.
	SecretEnv string
	// keyPos holds where each of Events is written (events.0, …; none for one the admin
	// API made).
	keyPos map[string]Pos
}

// Resource is the one resource the webhook's event patterns name, or "" when they name
// several or all.
func (w *Webhook) Resource() string {
	res := ""
	for _, e := range w.Events {
		r, _, _ := strings.Cut(e, ".")
		if r == "*" || (res != "" && r != res) {
			return ""
		}
		res = r
	}
	return res
}

// Incoming webhook signature schemes.
const (
	SchemeStripe   = "stripe"
	SchemeStandard = "standard"
)

// IncomingWebhook is a verified endpoint: a request whose signature holds becomes a job
// of the named Go handler, once per event id.
type IncomingWebhook struct {
	Pos  Pos
	Name string
	// Path is where it is served, e.g. /hooks/stripe.
	Path string
	// Scheme is stripe (Stripe-Signature) or standard (Standard Webhooks).
	Scheme    string
	SecretEnv string
	// Handler names a Go handler registered with kiln.Extensions.Webhook; Action runs an
	// action of the spec instead. Exactly one is set.
	Handler string
	Action  *IncomingAction
	// Payments marks the endpoint the payments block adds: its events drive payable
	// records (internal/integrations/payments).
	Payments bool
	// Tolerance is how far the signed timestamp may be from now (default 5m).
	Tolerance time.Duration
	// MaxBodyBytes bounds the request body (default 1 MiB).
	MaxBodyBytes int64
	// KeyPos holds where each key's value is written ("action.resource" for the action's;
	// the key itself for action) and, under "key:", where the key is, for errors; Pos is
	// the entry's.
	KeyPos map[string]Pos
}

// at is where the value of the first given key is written, or the entry when none is.
func (in *IncomingWebhook) at(keys ...string) Pos { return keyAt(in.KeyPos, in.Pos, keys...) }

// At is at for other packages: where the value of key is written, or the entry's position.
func (in *IncomingWebhook) At(key string) Pos { return in.at(key) }

// label names the endpoint in errors; the one the payments block adds says so, since the
// spec has no entry of it.
func (in *IncomingWebhook) label() string {
	if in.Payments {
		return "the payments endpoint (payments.webhook_path, default " + DefaultPaymentsWebhookPath + ")"
	}
	return "incoming webhook " + in.Name
}

// IncomingAction runs an action of a resource on the record whose id the event carries.
type IncomingAction struct {
	Resource string
	Name     string
	// RecordID is the dotted path of the record's id in the body, such as
	// data.object.metadata.order_id.
	RecordID string
}

// Kind is the job kind of the endpoint's jobs: "incoming.<name>".
func (i *IncomingWebhook) Kind() string { return "incoming." + i.Name }

// Defaults of incoming webhooks.
const (
	DefaultWebhookTolerance = 5 * time.Minute
	DefaultWebhookMaxBody   = 1 << 20
)
