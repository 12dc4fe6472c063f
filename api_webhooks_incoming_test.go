package kiln_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/jobs"
)

const (
	stripeSecret   = "whsec_stripe_test_0123456789"
	incomingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

const incomingSpec = `incoming_webhooks:
  - name: stripe
    path: /hooks/stripe
    scheme: stripe
    secret_env: STRIPE_WEBHOOK_SECRET
    handler: stripe_event
  - name: partner
    path: /hooks/partner
    scheme: standard
    secret_env: PARTNER_WEBHOOK_SECRET
    handler: partner_event
    max_body_bytes: 4096

resources:
`

// stripeSign is Stripe's scheme, written here independently: v1 is the hex HMAC-SHA256 of
// "t.body" with the endpoint secret.
func stripeSign(secret string, t time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t.Unix())
	mac.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

func standardHeaders(t *testing.T, id string, at time.Time, body []byte) []string {
	wh, err := standardwebhooks.NewWebhook(incomingSecret)
	require.NoError(t, err)
	sig, err := wh.Sign(id, at, body)
	require.NoError(t, err)
	return []string{"webhook-id", id, "webhook-timestamp", strconv.FormatInt(at.Unix(), 10), "webhook-signature", sig}
}

// Incoming webhooks: a good signature becomes one job of the endpoint's Go handler; the
// same event again is acknowledged without a second job; a bad signature, a stale
// timestamp and an oversized body are refused with stable codes.
func TestWebhookIncoming(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		var mu sync.Mutex
		seen := map[string][]string{}
		x := &kiln.Extensions{}
		for _, name := range []string{"stripe_event", "partner_event"} {
			x.Webhook(name, func(_ context.Context, in kiln.IncomingWebhook) error {
				mu.Lock()
				defer mu.Unlock()
				seen[in.Endpoint] = append(seen[in.Endpoint], in.EventID+" "+in.Type)
				return nil
			})
		}
		env := map[string]string{"STRIPE_WEBHOOK_SECRET": stripeSecret, "PARTNER_WEBHOOK_SECRET": incomingSecret, "SHOP_WEBHOOK_SECRET": testWebhookSecret}
		b := setupHooks(t, dialect, hookOpts{env: env, ext: x,
			spec: shopSpec(t, func(s string) string { return strings.Replace(s, "\nresources:\n", "\n"+incomingSpec, 1) })})
		b.admin = ""
		body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}`)
		now := time.Now()

		ok := b.do("POST", "/hooks/stripe", body, "Stripe-Signature", stripeSign(stripeSecret, now, body))
		require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
		require.Equal(t, false, ok.body["duplicate"])
		again := b.do("POST", "/hooks/stripe", body, "Stripe-Signature", stripeSign(stripeSecret, now.Add(time.Second), body))
		require.Equal(t, http.StatusOK, again.status, string(again.raw))
		require.Equal(t, true, again.body["duplicate"])

		bad := b.do("POST", "/hooks/stripe", body, "Stripe-Signature", stripeSign("whsec_other", now, body))
		require.Equal(t, http.StatusBadRequest, bad.status)
		require.Equal(t, "webhook_signature_invalid", bad.body["error"])
		tampered := bytes.Replace(body, []byte("evt_1"), []byte("evt_2"), 1)
		require.Equal(t, "webhook_signature_invalid", b.do("POST", "/hooks/stripe", tampered, "Stripe-Signature", stripeSign(stripeSecret, now, body)).body["error"])
		require.Equal(t, "webhook_signature_invalid", b.do("POST", "/hooks/stripe", body).body["error"])
		stale := b.do("POST", "/hooks/stripe", tampered, "Stripe-Signature", stripeSign(stripeSecret, now.Add(-10*time.Minute), tampered))
		require.Equal(t, http.StatusBadRequest, stale.status)
		require.Equal(t, "webhook_timestamp_stale", stale.body["error"])

		pbody := []byte(`{"type":"loan.made","data":{"book":"b1"}}`)
		ok = b.do("POST", "/hooks/partner", pbody, standardHeaders(t, "msg_p1", now, pbody)...)
		require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
		require.Equal(t, true, b.do("POST", "/hooks/partner", pbody, standardHeaders(t, "msg_p1", now, pbody)...).body["duplicate"])
		h := standardHeaders(t, "msg_p2", now, pbody)
		require.Equal(t, "webhook_signature_invalid", b.do("POST", "/hooks/partner", []byte(`{"type":"x"}`), h...).body["error"])
		require.Equal(t, "webhook_timestamp_stale", b.do("POST", "/hooks/partner", pbody, standardHeaders(t, "msg_p3", now.Add(6*time.Minute), pbody)...).body["error"])
		// signed, but no webhook of its shape: a timestamp that is no Unix time, an event id over
		// 255 bytes, a Stripe event without an id (they said the signature was bad)
		h = standardHeaders(t, "msg_p5", now, pbody)
		h[3] = "1733.5"
		require.Equal(t, "webhook_malformed", b.do("POST", "/hooks/partner", pbody, h...).body["error"])
		long := strings.Repeat("m", 300)
		require.Equal(t, "webhook_malformed", b.do("POST", "/hooks/partner", pbody, standardHeaders(t, long, now, pbody)...).body["error"])
		noID := []byte(`{"type":"payment_intent.succeeded"}`)
		require.Equal(t, "webhook_malformed", b.do("POST", "/hooks/stripe", noID, "Stripe-Signature", stripeSign(stripeSecret, now, noID)).body["error"])
		big := bytes.Repeat([]byte("x"), 5000)
		require.Equal(t, http.StatusRequestEntityTooLarge, b.do("POST", "/hooks/partner", big, standardHeaders(t, "msg_p4", now, big)...).status)
		require.Equal(t, http.StatusMethodNotAllowed, b.do("GET", "/hooks/partner", nil).status)

		for kind, want := range map[string]string{"incoming.stripe": "evt_1 payment_intent.succeeded", "incoming.partner": "msg_p1 loan.made"} {
			list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: kind})
			require.NoError(t, err)
			require.Len(t, list, 1, kind)
			endpoint := strings.TrimPrefix(kind, "incoming.")
			waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen[endpoint]) == 1 })
			mu.Lock()
			require.Equal(t, []string{want}, seen[endpoint])
			mu.Unlock()
		}
	})
}

// An incoming endpoint mapped to an action runs it once on the record the event names,
// even when the event is sent twice.
func TestWebhookIncomingRunsAnAction(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		endpoint := `incoming_webhooks:
  - name: psp
    path: /hooks/psp
    scheme: stripe
    secret_env: STRIPE_WEBHOOK_SECRET
    action: {resource: orders, name: cancel, record_id: data.object.metadata.order_id}
  - name: partner
    path: /hooks/partner
    scheme: standard
    secret_env: PARTNER_WEBHOOK_SECRET
    action: {resource: orders, name: cancel, record_id: order}

resources:
`
		env := map[string]string{"STRIPE_WEBHOOK_SECRET": stripeSecret, "SHOP_WEBHOOK_SECRET": testWebhookSecret, "PARTNER_WEBHOOK_SECRET": incomingSecret}
		b := setupHooks(t, dialect, hookOpts{env: env,
			spec: shopSpec(t, func(s string) string { return strings.Replace(s, "\nresources:\n", "\n"+endpoint, 1) })})
		p := b.product("Lamp", "30", 10)
		order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 1)}}, bearer(b.token("customer"))...)
		require.Equal(t, http.StatusCreated, order.status, string(order.raw))
		id := order.body["id"].(string)
		before := b.lastEvent()

		body := []byte(`{"id":"evt_c1","type":"payment_intent.canceled","data":{"object":{"metadata":{"order_id":"` + id + `"}}}}`)
		for range 2 {
			res := b.do("POST", "/hooks/psp", body, "Stripe-Signature", stripeSign(stripeSecret, time.Now(), body), "Authorization", "")
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
		}
		waitFor(t, func() bool { return b.do("GET", "/api/orders/"+id, nil).body["status"] == "cancelled" })
		waitFor(t, func() bool {
			list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "incoming.psp"})
			require.NoError(t, err)
			require.Len(t, list, 1, "one job for the event sent twice")
			return list[0].State == jobs.StateCompleted
		})
		// An action reads the event's JSON: a signed body that is not JSON is refused at once, not
		// recorded to fail in its job (a new user's trial got 200 for it).
		text := []byte("not json")
		res := b.do("POST", "/hooks/partner", text, append(standardHeaders(t, "msg_text", time.Now(), text), "Authorization", "")...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, "webhook_malformed", res.body["error"])
		list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "incoming.partner"})
		require.NoError(t, err)
		require.Empty(t, list)
		var cancels int
		for _, s := range summary(b.eventsAfter(before)) {
			if s == "orders action cancel" {
				cancels++
			}
		}
		require.Equal(t, 1, cancels)
	})
}
