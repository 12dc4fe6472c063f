package spec

import (
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Payments configures card payments (docs/integrations.md#payments). The secret key and the
// webhook signing secret come only from the environment (STRIPE_SECRET_KEY,
// STRIPE_WEBHOOK_SECRET).
type Payments struct {
	Pos Pos
	// Provider is stripe, the only one.
	Provider string
	// APIURL is Stripe's API base (default https://api.stripe.com); tests point it at
	// stripe-mock.
	APIURL string
	// WebhookPath is where Stripe's events are received (default /hooks/payments).
	WebhookPath string
	// SuccessURL and CancelURL are where Checkout sends the customer back; {id} is replaced
	// by the record's id.
	SuccessURL string
	CancelURL  string
	// Timeout bounds each call to Stripe (default 10s).
	Timeout time.Duration
}

// Enabled reports whether the spec declares payments.
func (p *Payments) Enabled() bool { return p.Provider != "" }

// Payable makes a resource's records payable: POST …/{id}/pay opens a Checkout Session for
// the amount field; Stripe's events move the state field.
type Payable struct {
	Pos Pos
	// Amount names a decimal field: what a record costs.
	Amount string
	// Currency is a fixed ISO 4217 code, lower case (eur); CurrencyField names a string or
	// enum field holding it instead. Exactly one is set.
	Currency      string
	CurrencyField string
	// State names the state-machine field events drive.
	State string
	// PayFrom are the states a record may be paid in (default: the machine's initial states).
	PayFrom []string
	// Paid is the state a completed payment moves the record to; Refunded, when set, the
	// state a full refund moves it to.
	Paid     string
	Refunded string
	// Refund are the roles that may refund (POST …/{id}/refund); none: no refund route.
	Refund []string
}

// PaymentsWebhook is the name of the incoming endpoint that payments add.
const PaymentsWebhook = "payments"

// Defaults of payments.
const (
	PaymentsStripe             = "stripe"
	DefaultPaymentsAPIURL      = "https://api.stripe.com"
	DefaultPaymentsWebhookPath = "/hooks/payments"
	DefaultPaymentsTimeout     = 10 * time.Second
	PaymentsSecretEnv          = "STRIPE_WEBHOOK_SECRET"
)

var (
	paymentsKeys = []string{"provider", "api_url", "webhook_path", "success_url", "cancel_url", "timeout"}
	payableKeys  = []string{"amount", "currency", "currency_field", "state", "pay_from", "paid", "refunded", "refund"}
)

func (w *walker) payments(n ast.Node, p *Payments) {
	p.Pos = w.pos(n)
	entries, _ := w.mapping(n, "payments", paymentsKeys...)
	for _, e := range entries {
		what := "payments." + e.key
		switch e.key {
		case "provider":
			p.Provider = w.str(e.value, what)
		case "api_url":
			p.APIURL = w.str(e.value, what)
		case "webhook_path":
			p.WebhookPath = w.str(e.value, what)
		case "success_url":
			p.SuccessURL = w.str(e.value, what)
		case "cancel_url":
			p.CancelURL = w.str(e.value, what)
		case "timeout":
			p.Timeout = w.duration(e.value, what)
		}
	}
	if p.Provider == "" {
		w.add(p.Pos, "payments needs provider: stripe")
		p.Provider = "?"
	}
}

func (w *walker) payable(n ast.Node) *Payable {
	p := &Payable{Pos: w.pos(n)}
	entries, _ := w.mapping(n, "payable", payableKeys...)
	for _, e := range entries {
		what := "payable." + e.key
		switch e.key {
		case "amount":
			p.Amount = w.str(e.value, what)
		case "currency":
			p.Currency = w.str(e.value, what)
		case "currency_field":
			p.CurrencyField = w.str(e.value, what)
		case "state":
			p.State = w.str(e.value, what)
		case "pay_from":
			p.PayFrom = w.strings(e.value, what)
		case "paid":
			p.Paid = w.str(e.value, what)
		case "refunded":
			p.Refunded = w.str(e.value, what)
		case "refund":
			p.Refund = w.strings(e.value, what)
		}
	}
	return p
}
