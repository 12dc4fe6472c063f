package spec

import "time"

// Payments configures card payments (docs/integrations.md#payments). The secret key and the
// webhook signing secret come only from the environment (STRIPE_SECRET_KEY,
// STRIPE_WEBHOOK_SECRET).
type Payments struct {
	// Pos is the payments: key's; KeyPos holds where each key's value is written and,
	// under "key:", where the key is, for errors.
	Pos    Pos
	KeyPos map[string]Pos
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

// at is where the first given of keys is written, or the payments: key when none is.
func (p *Payments) at(keys ...string) Pos { return keyAt(p.KeyPos, p.Pos, keys...) }

// at is where the first given of keys is written, or the payable: key when none is.
func (p *Payable) at(keys ...string) Pos { return keyAt(p.KeyPos, p.Pos, keys...) }

// Payable makes a resource's records payable: POST …/{id}/pay opens a Checkout Session for
// the amount field; Stripe's events move the state field.
type Payable struct {
	// Pos is the payable: key's; KeyPos holds where each key's value is written (a list's
	// items as pay_from.0, refund.1…) and, under "key:", where the key is, for errors.
	Pos    Pos
	KeyPos map[string]Pos
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

// noProvider stands for a provider left out (reported once, as such): payments stay
// enabled, so payable resources are not reported as lacking the block too.
const noProvider = "?"

var (
	paymentsKeys = []string{"provider", "api_url", "webhook_path", "success_url", "cancel_url", "timeout"}
	payableKeys  = []string{"amount", "currency", "currency_field", "state", "pay_from", "paid", "refunded", "refund"}
)

func (w *walker) payments(block entry, p *Payments) {
	p.Pos, p.KeyPos = block.pos, map[string]Pos{}
	entries, _ := w.mapping(block.value, "payments", paymentsKeys...)
	for _, e := range entries {
		w.notePos(p.KeyPos, "", e)
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
		w.add(p.at("provider"), "payments needs provider: stripe")
		p.Provider = noProvider
	}
}

func (w *walker) payable(block entry) *Payable {
	p := &Payable{Pos: block.pos, KeyPos: map[string]Pos{}}
	entries, _ := w.mapping(block.value, "payable", payableKeys...)
	for _, e := range entries {
		w.notePos(p.KeyPos, "", e)
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
			p.PayFrom = w.stringsAt(e.value, what, p.KeyPos, e.key)
		case "paid":
			p.Paid = w.str(e.value, what)
		case "refunded":
			p.Refunded = w.str(e.value, what)
		case "refund":
			p.Refund = w.stringsAt(e.value, what, p.KeyPos, e.key)
		}
	}
	return p
}
