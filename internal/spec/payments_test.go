package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePaymentsShop(t *testing.T) {
	t.Parallel()
	s, err := Load("../../examples/shop/kiln.yaml", ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	p := s.Payments
	require.Equal(t, PaymentsStripe, p.Provider)
	require.Equal(t, "https://api.stripe.com", p.APIURL)
	require.Equal(t, "http://localhost:3000/orders/{id}?paid=1", p.SuccessURL)
	pay := s.Resource("orders").Payable
	require.Equal(t, &Payable{Pos: pay.Pos, Amount: "total", Currency: "eur", State: "status", PayFrom: []string{"pending"},
		Paid: "paid", Refunded: "refunded", Refund: []string{"staff", "admin"}}, pay)
	var endpoint *IncomingWebhook
	for _, in := range s.Webhooks.Incoming {
		if in.Payments {
			endpoint = in
		}
	}
	require.NotNil(t, endpoint, "payments add their incoming endpoint")
	require.Equal(t, "/hooks/payments", endpoint.Path)
	require.Equal(t, SchemeStripe, endpoint.Scheme)
	require.Equal(t, "STRIPE_WEBHOOK_SECRET", endpoint.SecretEnv)
}

func TestParsePaymentsErrorsHavePositions(t *testing.T) {
	t.Parallel()
	src := `roles: [admin]
payments:
  provider: paypal
  api_url: ftp://stripe
  success_url: /done
  cancel_url: https://shop.example/orders/{id}
resources:
  orders:
    fields:
      total: {type: integer}
      status: {type: enum, values: [pending, paid], transitions: [{from: pending, to: paid}]}
    actions:
      pay: {steps: [{set: {status: "'paid'"}}]}
    payable:
      amount: total
      currency: euro
      state: status
      pay_from: [paid]
      paid: paid
      refunded: gone
      refund: [clerk]
  items:
    fields:
      price: {type: decimal, precision: 8, scale: 2}
    payable: {amount: price, currency: eur, currency_field: price, state: price, paid: x}
`
	_, err := Parse("kiln.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.Error(t, err)
	text := err.Error()
	for _, want := range []string{
		`kiln.yaml:3:11: payments.provider "paypal" is not supported (stripe)`,
		`kiln.yaml:3:11: payments.api_url "ftp://stripe" must be an absolute http or https URL`,
		`kiln.yaml:3:11: payments.success_url must be an absolute http or https URL`,
		`kiln.yaml:15:13: orders: payable.amount must name a decimal field, not "total"`,
		`kiln.yaml:15:13: orders: payable.currency "euro" is not a three-letter ISO 4217 code`,
		`kiln.yaml:15:13: orders: payable serves POST …/{id}/pay; the resource's action "pay" clashes with it`,
		`kiln.yaml:15:13: orders: payable.refund: no role "clerk"`,
		`kiln.yaml:15:13: orders: payable.pay_from paid: the state machine of status has no transition from paid to paid`,
		`kiln.yaml:15:13: orders: payable.refunded "gone": the state machine of status has no transition from paid to it`,
		`kiln.yaml:25:14: items: payable needs exactly one of currency:`,
		`kiln.yaml:25:14: items: payable.state must name an enum field with transitions`,
	} {
		require.Contains(t, text, want)
	}
}

func TestParsePayableNeedsPayments(t *testing.T) {
	t.Parallel()
	src := `resources:
  orders:
    fields:
      total: {type: decimal, precision: 8, scale: 2}
      status: {type: enum, values: [pending, paid], initial: [pending], transitions: [{from: pending, to: paid}]}
    payable: {amount: total, currency: eur, state: status, paid: paid}
`
	_, err := Parse("kiln.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, "kiln.yaml:6:14: orders is payable, but the spec has no payments: block")
}
