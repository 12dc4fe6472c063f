package spec

import (
	"strings"
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
	require.Equal(t, &Payable{Pos: pay.Pos, KeyPos: pay.KeyPos, Amount: "total", Currency: "eur", State: "status", PayFrom: []string{"pending"},
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
		`kiln.yaml:3:13: payments.provider "paypal" is not supported (stripe)`,
		`kiln.yaml:4:12: payments.api_url "ftp://stripe" must be an absolute http or https URL`,
		`kiln.yaml:5:16: payments.success_url must be an absolute http or https URL`,
		`kiln.yaml:15:15: orders: payable.amount must name a decimal field, not "total"`,
		`kiln.yaml:16:17: orders: payable.currency "euro" is not a three-letter ISO 4217 code`,
		`kiln.yaml:13:7: orders: payable serves POST …/{id}/pay; the resource's action "pay" clashes with it`,
		`kiln.yaml:21:16: orders: payable.refund: no role "clerk"`,
		`kiln.yaml:18:18: orders: payable.pay_from paid: the state machine of status has no transition from paid to paid`,
		`kiln.yaml:20:17: orders: payable.refunded "gone": the state machine of status has no transition from paid to it`,
		`kiln.yaml:25:45: items: payable needs exactly one of currency:`,
		`kiln.yaml:25:75: items: payable.state must name an enum field with transitions`,
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
	require.ErrorContains(t, err, "kiln.yaml:6:5: orders is payable, but the spec has no payments: block")
}

// Each payments and payable problem is reported at the key or value at fault; a key left
// out points at payments: or payable:.
func TestPaymentsErrorsAtTheirKeys(t *testing.T) {
	t.Parallel()
	const spec = "roles: [staff]\n" +
		"payments:\n" +
		"  provider: stripe\n" +
		"  api_url: https://api.stripe.com\n" +
		"  webhook_path: /hooks/payments\n" +
		"  success_url: https://shop.example/orders/{id}\n" +
		"  cancel_url: https://shop.example/orders/{id}\n" +
		"resources:\n" +
		"  orders:\n" +
		"    fields:\n" +
		"      total: {type: decimal, precision: 10, scale: 2}\n" +
		"      code: string\n" +
		"      status:\n" +
		"        type: enum\n" +
		"        values: [pending, paid, refunded]\n" +
		"        initial: [pending]\n" +
		"        transitions:\n" +
		"          - {from: pending, to: paid}\n" +
		"          - {from: paid, to: refunded}\n" +
		"    payable:\n" +
		"      amount: total\n" +
		"      currency: eur\n" +
		"      state: status\n" +
		"      pay_from: [pending]\n" +
		"      paid: paid\n" +
		"      refunded: refunded\n" +
		"      refund: [staff]\n"
	const hook = "incoming_webhooks:\n  - {name: shop, path: /hooks/payments, scheme: stripe, secret_env: SHOP_SECRET, handler: shop}\n"
	for _, tc := range []struct {
		name, old, new, want string
		old2, new2           string // a second edit, when one is not enough
	}{
		{name: "Provider", old: "provider: stripe", new: "provider: paypal",
			want: `k.yaml:3:13: payments.provider "paypal" is not supported (stripe)`},
		{name: "ProviderMissing", old: "  provider: stripe\n", new: "",
			want: `k.yaml:2:1: payments needs provider: stripe`},
		{name: "APIURL", old: "api_url: https://api.stripe.com", new: "api_url: https://api.stripe.com/v1",
			want: `k.yaml:4:12: payments.api_url "https://api.stripe.com/v1" must be an absolute http or https URL without a path`},
		{name: "SuccessURL", old: "success_url: https:", new: "success_url: ",
			want: `k.yaml:6:16: payments.success_url must be an absolute http or https URL ({id} stands for the record's id), not "//shop.example/orders/{id}"`},
		{name: "CancelURL", old: "cancel_url: https://", new: "cancel_url: ftp://",
			want: `k.yaml:7:15: payments.cancel_url must be an absolute http or https URL`},
		{name: "CancelURLMissing", old: "  cancel_url: https://shop.example/orders/{id}\n", new: "",
			want: `k.yaml:2:1: payments.cancel_url must be an absolute http or https URL ({id} stands for the record's id), not ""`},
		{name: "WebhookPath", old: "webhook_path: /hooks/payments", new: "webhook_path: hooks/payments",
			want: `k.yaml:5:17: the payments endpoint (payments.webhook_path, default /hooks/payments): path "hooks/payments" must be a plain absolute path`},
		{name: "WebhookPathKilnServes", old: "webhook_path: /hooks/payments", new: "webhook_path: /api/payments",
			want: `k.yaml:5:17: the payments endpoint (payments.webhook_path, default /hooks/payments): path "/api/payments" is under server.base_path /api`},
		{name: "WebhookPathTaken", old: "refund: [staff]\n", new: "refund: [staff]\n" + hook,
			want: `k.yaml:5:17: the payments endpoint (payments.webhook_path, default /hooks/payments): path "/hooks/payments" is another incoming webhook's (shop)`},
		{name: "DefaultWebhookPathTaken", old: "  webhook_path: /hooks/payments\n", new: "", old2: "refund: [staff]\n", new2: "refund: [staff]\n" + hook,
			want: `k.yaml:2:1: the payments endpoint (payments.webhook_path, default /hooks/payments): path "/hooks/payments" is another incoming webhook's (shop)`},
		{name: "WebhookNameTaken", old: "refund: [staff]\n", new: "refund: [staff]\n" + strings.Replace(strings.Replace(hook, "/hooks/payments", "/hooks/shop", 1), "name: shop", "name: payments", 1),
			want: `k.yaml:29:12: incoming webhook name "payments" is the payments endpoint's; choose another`},
		{name: "Amount", old: "amount: total", new: "amount: code",
			want: `k.yaml:21:15: orders: payable.amount must name a decimal field, not "code"`},
		{name: "Currency", old: "currency: eur", new: "currency: euro",
			want: `k.yaml:22:17: orders: payable.currency "euro" is not a three-letter ISO 4217 code`},
		{name: "CurrencyAndField", old: "currency: eur\n", new: "currency: eur\n      currency_field: code\n",
			want: `k.yaml:23:7: orders: payable needs exactly one of currency: (an ISO 4217 code such as eur) or currency_field:`},
		{name: "FieldAndCurrency", old: "      currency: eur\n", new: "      currency_field: code\n      currency: eur\n",
			want: `k.yaml:23:7: orders: payable needs exactly one of currency:`},
		{name: "CurrencyNeither", old: "      currency: eur\n", new: "",
			want: `k.yaml:20:5: orders: payable needs exactly one of currency:`},
		{name: "CurrencyField", old: "currency: eur", new: "currency_field: total",
			want: `k.yaml:22:23: orders: payable.currency_field must name a string or enum field, not "total"`},
		{name: "State", old: "state: status", new: "state: code",
			want: `k.yaml:23:14: orders: payable.state must name an enum field with transitions (a state machine), not "code"`},
		{name: "StateMissing", old: "      state: status\n", new: "",
			want: `k.yaml:20:5: orders: payable.state must name an enum field with transitions (a state machine), not ""`},
		{name: "PayFrom", old: "pay_from: [pending]", new: "pay_from: [pending, refunded]",
			want: `k.yaml:24:27: orders: payable.pay_from refunded: the state machine of status has no transition from refunded to paid`},
		{name: "PayFromBlockList", old: "pay_from: [pending]", new: "pay_from:\n        - pending\n        - refunded",
			want: `k.yaml:26:11: orders: payable.pay_from refunded: the state machine of status has no transition from refunded to paid`},
		{name: "PayFromInitial", old: "initial: [pending]", new: "initial: [refunded]", old2: "      pay_from: [pending]\n", new2: "",
			want: `k.yaml:24:13: orders: payable.pay_from refunded: the state machine of status has no transition from refunded to paid`},
		{name: "PayFromNone", old: "        initial: [pending]\n", new: "", old2: "      pay_from: [pending]\n", new2: "",
			want: `k.yaml:19:5: orders: payable needs pay_from: the states a record may be paid in`},
		{name: "Paid", old: "paid: paid", new: "paid: done",
			want: `k.yaml:25:13: orders: payable.paid "done" is not a value of status`},
		{name: "Refunded", old: "refunded: refunded", new: "refunded: pending",
			want: `k.yaml:26:17: orders: payable.refunded "pending": the state machine of status has no transition from paid to it`},
		{name: "RefundRole", old: "refund: [staff]", new: "refund: [staff, clerk]",
			want: `k.yaml:27:23: orders: payable.refund: no role "clerk"`},
		{name: "ActionClash", old: "refund: [staff]\n", new: "refund: [staff]\n    actions:\n      refund:\n        access: public\n        steps: [{set: {status: \"'refunded'\"}}]\n",
			want: `k.yaml:29:7: orders: payable serves POST …/{id}/refund; the resource's action "refund" clashes with it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(spec, tc.old, tc.new, 1)
			src = strings.Replace(src, tc.old2, tc.new2, 1)
			require.NotEqual(t, spec, src)
			_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Len(t, err.(Errors), 1, err.Error())
		})
	}
	_, err := Parse("k.yaml", []byte(spec+hook[:len("incoming_webhooks:\n")]), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
}
