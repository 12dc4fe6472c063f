package spec

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An incoming webhook's problems are reported at the value at fault, not at its entry.
func TestIncomingWebhookErrorsHavePositions(t *testing.T) {
	t.Parallel()
	const hook = "incoming_webhooks:\n" +
		"  - name: carrier\n" +
		"    path: /hooks/carrier\n" +
		"    scheme: standard\n" +
		"    secret_env: CARRIER_SECRET\n" +
		"    handler: carrier\n"
	const action = "    action:\n" +
		"      resource: shipments\n" +
		"      name: ship\n" +
		"      record_id: data.id\n"
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{name: "Name", old: "name: carrier", new: "name: Carrier",
			want: `k.yaml:2:11: incoming webhook name "Carrier" must be lowercase letters`},
		{name: "Path", old: "path: /hooks/carrier", new: "path: hooks/carrier",
			want: `k.yaml:3:11: incoming webhook carrier: path "hooks/carrier" must be a plain absolute path`},
		{name: "PathKilnServes", old: "path: /hooks/carrier", new: "path: /healthz",
			want: `k.yaml:3:11: incoming webhook carrier: path "/healthz" is Kiln's own /healthz`},
		{name: "Scheme", old: "scheme: standard", new: "scheme: github",
			want: `k.yaml:4:13: incoming webhook carrier: scheme must be stripe or standard`},
		{name: "SecretItself", old: "secret_env: CARRIER_SECRET", new: "secret_env: whsec_abc",
			want: `k.yaml:5:17: incoming webhook carrier needs secret_env:`},
		// a trial's "lower case" was told secret_env was missing, though it was there
		{name: "SecretEnvNotAName", old: "secret_env: CARRIER_SECRET", new: `secret_env: "lower case"`,
			want: `k.yaml:5:17: incoming webhook carrier has secret_env "lower case", which is no environment variable name`},
		{name: "Handler", old: "handler: carrier", new: "handler: Carrier-1",
			want: `k.yaml:6:14: handler name "Carrier-1" must be lowercase letters`},
		{name: "MaxBodyBytes", old: "handler: carrier\n", new: "handler: carrier\n    max_body_bytes: -1\n",
			want: `k.yaml:7:21: incoming webhook carrier: max_body_bytes must be positive`},
		{name: "ActionResource", old: "    handler: carrier\n", new: strings.Replace(action, "shipments", "shipment", 1),
			want: `k.yaml:7:17: incoming webhook carrier: action: no resource "shipment" (did you mean "shipments"?)`},
		{name: "ActionName", old: "    handler: carrier\n", new: strings.Replace(action, "ship\n", "send\n", 1),
			want: `k.yaml:8:13: incoming webhook carrier: shipments has no action "send"`},
		{name: "ActionRecordID", old: "    handler: carrier\n", new: strings.Replace(action, "data.id", "data..id", 1),
			want: `k.yaml:9:18: incoming webhook carrier: action.record_id must be the dotted path`},
		{name: "ActionRecordIDMissing", old: "    handler: carrier\n", new: strings.Replace(action, "      record_id: data.id\n", "", 1),
			want: `k.yaml:6:5: incoming webhook carrier: action.record_id must be the dotted path`},
		{name: "HandlerThenAction", old: "    handler: carrier\n", new: "    handler: carrier\n" + action,
			want: `k.yaml:7:5: incoming webhook carrier needs exactly one of handler: (a Go handler) or action:`},
		{name: "ActionThenHandler", old: "    handler: carrier\n", new: action + "    handler: carrier\n",
			want: `k.yaml:10:5: incoming webhook carrier needs exactly one of handler: (a Go handler) or action:`},
		{name: "NeitherHandlerNorAction", old: "    handler: carrier\n", new: "",
			want: `k.yaml:2:9: incoming webhook carrier needs exactly one of handler: (a Go handler) or action:`},
		{name: "NameTwice", old: "handler: carrier\n", new: "handler: carrier\n" + strings.Replace(hook[len("incoming_webhooks:\n"):], "/hooks/carrier", "/hooks/other", 1),
			want: `k.yaml:7:11: incoming webhook carrier is declared twice`},
		{name: "PathTwice", old: "handler: carrier\n", new: "handler: carrier\n" + strings.Replace(hook[len("incoming_webhooks:\n"):], "name: carrier", "name: other", 1),
			want: `k.yaml:8:11: incoming webhook other: path "/hooks/carrier" is another incoming webhook's (carrier)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(hook, tc.old, tc.new, 1)
			require.NotEqual(t, hook, src)
			src += "resources:\n  shipments:\n    fields:\n      note: string\n" +
				"    actions:\n      ship:\n        access: public\n        steps:\n          - set: {note: \"'shipped'\"}\n"
			_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Len(t, err.(Errors), 1, err.Error())
		})
	}
}
