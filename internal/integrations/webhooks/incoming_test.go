package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

var stampRe = regexp.MustCompile(`t=(\d+)`)

var fuzzNow = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func fuzzHooks() (*Webhooks, *spec.IncomingWebhook) {
	w := &Webhooks{cfg: Config{Spec: &spec.Spec{}, Now: func() time.Time { return fuzzNow }}.withDefaults()}
	return w, &spec.IncomingWebhook{Name: "in", Tolerance: 5 * time.Minute}
}

func stripeHeader(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(mac.Sum(nil)))
}

// A Stripe-Signature header an attacker writes never verifies without the secret, and no
// header or body makes the parser panic; the header the secret makes always verifies.
func FuzzVerifyStripe(f *testing.F) {
	body := []byte(`{"id":"evt_1","type":"charge.refunded"}`)
	good := stripeHeader("whsec_k", fuzzNow.Unix(), body)
	for _, seed := range []string{good, "", "t=", "v1=", "t=1,v1=zz", "t=-1,v1=00", ",,,,", "t=99999999999999999999,v1=ab",
		"t=" + strconv.FormatInt(fuzzNow.Unix(), 10) + ",v1=" + good[len(good)-64:] + "00", "t=1 , v1 = ab , v0=cd"} {
		f.Add(seed, body)
	}
	w, in := fuzzHooks()
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		id, err := w.verifyStripe(in, []string{"whsec_k"}, header, b)
		if err == nil { // only a v1 the secret made, for a timestamp in the header, verifies
			made := false
			for _, m := range stampRe.FindAllStringSubmatch(header, -1) {
				want := stripeHeader("whsec_k", mustInt(m[1]), b)
				made = made || strings.Contains(strings.ToLower(header), want[strings.Index(want, "v1=")+3:])
			}
			require.True(t, made, header)
		}
		if header == good && string(b) == string(body) {
			require.NoError(t, err)
			require.Equal(t, "evt_1", id)
		}
	})
}

// Hostile Standard Webhooks headers never verify and never panic.
func FuzzVerifyStandard(f *testing.F) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"type":"loan.made"}`)
	sig, err := Sign([]Secret{Secret(secret)}, "msg_1", fuzzNow, body)
	require.NoError(f, err)
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	f.Add("msg_1", ts, sig, body)
	for _, s := range []string{"", "v1,", "v1,AAAA", "v2," + sig[3:], sig + " v1,x", "v1," + sig[3:] + "="} {
		f.Add("msg_1", ts, s, body)
	}
	f.Add("msg_1", "not-a-number", sig, body)
	f.Add("", ts, sig, body)
	w, in := fuzzHooks()
	f.Fuzz(func(t *testing.T, id, stamp, signature string, b []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", stamp)
		h.Set("webhook-signature", signature)
		got, err := w.verifyStandard(in, []string{secret}, h, b)
		if err != nil {
			return
		}
		// Only a signature the secret made verifies.
		want, serr := Sign([]Secret{Secret(secret)}, h.Get("webhook-id"), time.Unix(mustInt(stamp), 0), b)
		require.NoError(t, serr)
		require.Contains(t, " "+h.Get("webhook-signature")+" ", " "+want+" ")
		require.Equal(t, h.Get("webhook-id"), got)
	})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
