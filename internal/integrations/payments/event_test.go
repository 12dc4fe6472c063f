package payments

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"
)

func TestObserve(t *testing.T) {
	t.Parallel()
	meta := `"metadata":{"kiln_resource":"orders","kiln_record_id":"r1"}`
	tests := []struct {
		name string
		body string
		want observation
		ok   bool
	}{
		{name: "SessionPaid", ok: true,
			body: `{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","amount_total":2999,"currency":"eur","payment_status":"paid","payment_intent":"pi_1",` + meta + `}}}`,
			want: observation{EventID: "evt_1", Resource: "orders", RecordID: "r1", SessionID: "cs_1", IntentID: "pi_1", To: StatePaid, Amount: 2999, Currency: "eur"}},
		{name: "SessionUnpaidLearnsIDsOnly", ok: true,
			body: `{"id":"evt_2","type":"checkout.session.completed","data":{"object":{"id":"cs_1","amount_total":2999,"currency":"eur","payment_status":"unpaid",` + meta + `}}}`,
			want: observation{EventID: "evt_2", Resource: "orders", RecordID: "r1", SessionID: "cs_1", Amount: 2999, Currency: "eur"}},
		{name: "IntentFailed", ok: true,
			body: `{"id":"evt_3","type":"payment_intent.payment_failed","data":{"object":{"id":"pi_1","amount_received":0,"currency":"eur",` + meta + `}}}`,
			want: observation{EventID: "evt_3", Resource: "orders", RecordID: "r1", IntentID: "pi_1", To: StateFailed, Currency: "eur"}},
		{name: "PartialRefundMovesNothing", ok: true,
			body: `{"id":"evt_4","type":"charge.refunded","data":{"object":{"id":"ch_1","amount":2999,"amount_refunded":100,"refunded":false,"currency":"eur","payment_intent":"pi_1"}}}`,
			want: observation{EventID: "evt_4", IntentID: "pi_1", Amount: 2999, Currency: "eur"}},
		{name: "SessionExpired", ok: true,
			body: `{"id":"evt_6","type":"checkout.session.expired","data":{"object":{"id":"cs_1","amount_total":2999,"currency":"eur","payment_status":"unpaid","status":"expired",` + meta + `}}}`,
			want: observation{EventID: "evt_6", Resource: "orders", RecordID: "r1", SessionID: "cs_1", To: StateExpired, Amount: 2999, Currency: "eur"}},
		{name: "OtherTypeIgnored", body: `{"id":"evt_5","type":"customer.created","data":{"object":{"id":"cus_1"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ev stripe.Event
			require.NoError(t, json.Unmarshal([]byte(tt.body), &ev))
			got, ok, err := observe(&ev)
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, tt.want, got)
			}
		})
	}
}

// FuzzObserve: whatever a (signed) body holds, reading it never panics.
func FuzzObserve(f *testing.F) {
	for _, seed := range []string{
		`{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"payment_intent":{"id":"pi_1"},"metadata":null}}}`,
		`{"type":"charge.refunded","data":{"object":{"payment_intent":7}}}`,
		`{"type":"payment_intent.succeeded","data":{"object":[]}}`,
		`{"type":"payment_intent.succeeded","data":null}`,
		`{"type":"checkout.session.completed"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ev stripe.Event
		if json.Unmarshal(body, &ev) != nil || ev.Data == nil {
			return
		}
		_, _, _ = observe(&ev)
	})
}
