package spec

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/kiln-dev/kiln/internal/value"
)

var currencyRe = regexp.MustCompile(`^[a-z]{3}$`)

// validatePayments checks the payments block and every payable resource, and adds the
// incoming endpoint Stripe's events arrive at (an entry of Webhooks.Incoming, so its
// signature check and event-id de-duplication are the incoming machinery's). Each problem
// is reported at the key or value at fault, at payments: or payable: when the key is absent.
func validatePayments(s *Spec, c *collector) {
	p := &s.Payments
	for _, r := range s.Resources {
		if r.Payable != nil {
			validatePayable(s, r, c)
		}
	}
	if !p.Enabled() {
		for _, r := range s.Resources {
			if r.Payable != nil {
				c.add(r.Payable.Pos, "%s is payable, but the spec has no payments: block (provider: stripe)", r.Name)
			}
		}
		return
	}
	if p.Provider != PaymentsStripe && p.Provider != noProvider {
		c.add(p.at("provider"), "payments.provider %q is not supported (stripe)", p.Provider)
	}
	p.APIURL = strings.TrimSuffix(cmp.Or(p.APIURL, DefaultPaymentsAPIURL), "/")
	p.WebhookPath = cmp.Or(p.WebhookPath, DefaultPaymentsWebhookPath)
	p.Timeout = cmp.Or(p.Timeout, DefaultPaymentsTimeout)
	if u, err := url.Parse(p.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		c.add(p.at("api_url"), "payments.api_url %q must be an absolute http or https URL without a path, such as https://api.stripe.com", p.APIURL)
	}
	for _, u := range []struct{ key, v string }{{"success_url", p.SuccessURL}, {"cancel_url", p.CancelURL}} {
		if !value.IsWebURL(strings.ReplaceAll(u.v, "{id}", "x")) {
			c.add(p.at(u.key), "payments.%s must be an absolute http or https URL ({id} stands for the record's id), not %q", u.key, u.v)
		}
	}
	// Its problems (a path another endpoint has, one Kiln serves) point at webhook_path,
	// or at payments: when the default path is taken.
	s.Webhooks.Incoming = append(s.Webhooks.Incoming, &IncomingWebhook{Pos: p.Pos, Name: PaymentsWebhook, Path: p.WebhookPath,
		Scheme: SchemeStripe, SecretEnv: PaymentsSecretEnv, Payments: true, KeyPos: map[string]Pos{"path": p.at("webhook_path")}})
}

func validatePayable(s *Spec, r *Resource, c *collector) {
	p := r.Payable
	if f := r.Field(p.Amount); f == nil || f.Type != TypeDecimal {
		c.add(p.at("amount"), "%s: payable.amount must name a decimal field, not %q", r.Name, p.Amount)
	}
	validatePayableCurrency(r, c)
	for _, name := range []string{"pay", "refund"} {
		if a := r.RecordAction(name); a != nil {
			c.add(a.Pos, "%s: payable serves POST …/{id}/%s; the resource's action %q clashes with it", r.Name, name, name)
		}
	}
	for i, role := range p.Refund {
		if !slices.Contains(s.Roles, role) {
			c.add(p.at(keyIndex("refund", i)), "%s: payable.refund: no role %q", r.Name, role)
		}
	}
	validatePayableStates(r, c)
}

// validatePayableCurrency checks that exactly one of currency and currency_field is given,
// and that it is right.
func validatePayableCurrency(r *Resource, c *collector) {
	p := r.Payable
	switch {
	case p.Currency != "" && p.CurrencyField != "":
		c.add(laterKey(p.KeyPos, "currency", "currency_field"), "%s: payable needs exactly one of currency: (an ISO 4217 code such as eur) or currency_field:", r.Name)
	case p.Currency == "" && p.CurrencyField == "":
		c.add(p.at("currency", "currency_field"), "%s: payable needs exactly one of currency: (an ISO 4217 code such as eur) or currency_field:", r.Name)
	case p.Currency != "":
		p.Currency = strings.ToLower(p.Currency)
		if !currencyRe.MatchString(p.Currency) {
			c.add(p.at("currency"), "%s: payable.currency %q is not a three-letter ISO 4217 code", r.Name, p.Currency)
		}
	default:
		if f := r.Field(p.CurrencyField); f == nil || (f.Type != TypeString && f.Type != TypeEnum) {
			c.add(p.at("currency_field"), "%s: payable.currency_field must name a string or enum field, not %q", r.Name, p.CurrencyField)
		}
	}
}

// validatePayableStates checks that the state machine has the moves payments make: from
// each pay_from state to paid, and from paid to refunded.
func validatePayableStates(r *Resource, c *collector) {
	p := r.Payable
	f := r.Field(p.State)
	if f == nil || f.Type != TypeEnum || len(f.Transitions) == 0 {
		c.add(p.at("state"), "%s: payable.state must name an enum field with transitions (a state machine), not %q", r.Name, p.State)
		return
	}
	if len(p.PayFrom) == 0 {
		p.PayFrom = f.Initial
	}
	if len(p.PayFrom) == 0 {
		c.add(p.at("pay_from"), "%s: payable needs pay_from: the states a record may be paid in", r.Name)
	}
	if !slices.Contains(f.Values, p.Paid) {
		c.add(p.at("paid"), "%s: payable.paid %q is not a value of %s", r.Name, p.Paid, f.Name)
		return
	}
	for i, from := range p.PayFrom {
		if !canMove(f, from, p.Paid) {
			// pay_from left out is the machine's initial states: the move to paid is missing
			c.add(p.at(keyIndex("pay_from", i), "paid"), "%s: payable.pay_from %s: the state machine of %s has no transition from %s to %s", r.Name, from, f.Name, from, p.Paid)
		}
	}
	if p.Refunded != "" && !canMove(f, p.Paid, p.Refunded) {
		c.add(p.at("refunded"), "%s: payable.refunded %q: the state machine of %s has no transition from %s to it", r.Name, p.Refunded, f.Name, p.Paid)
	}
}

// canMove reports whether a transition leads from one state to another (whatever its roles).
func canMove(f *Field, from, to string) bool {
	for _, t := range f.Transitions {
		if t.To == to && (slices.Contains(t.From, from) || slices.Contains(t.From, "*")) {
			return true
		}
	}
	return false
}

// CanMove reports whether the state machine field has a transition from one state to another.
func (f *Field) CanMove(from, to string) bool { return canMove(f, from, to) }
