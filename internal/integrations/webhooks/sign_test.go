package webhooks

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// During a rotation both secrets sign: a receiver holding either verifies with the
// Standard Webhooks library; one holding neither does not.
func TestSignVerifiesWithEitherSecret(t *testing.T) {
	t.Parallel()
	old, err := NewSecret(rand.Reader)
	require.NoError(t, err)
	next, err := NewSecret(rand.Reader)
	require.NoError(t, err)
	other, err := NewSecret(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, CheckSecret(string(old)))
	body := []byte(`{"type":"order.paid"}`)
	at := time.Now()
	sig, err := Sign([]Secret{next, old}, "msg_1_1", at, body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set("webhook-id", "msg_1_1")
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", sig)
	for _, s := range []Secret{old, next} {
		wh, err := standardwebhooks.NewWebhook(string(s))
		require.NoError(t, err)
		require.NoError(t, wh.Verify(body, h))
	}
	wh, err := standardwebhooks.NewWebhook(string(other))
	require.NoError(t, err)
	require.Error(t, wh.Verify(body, h))
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s, err := NewSecret(rand.Reader)
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s)
	require.NotContains(t, buf.String(), string(s)[6:])
	require.NotContains(t, fmt.Sprint(s), string(s)[6:])
	require.Error(t, CheckSecret("whsec_short"))
	require.Error(t, CheckSecret("plain"))
}

func TestSecretsProblem(t *testing.T) {
	t.Parallel()
	good := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for v, want := range map[string]string{
		good:                          "",
		good + " " + good:             "",
		"":                            "holds no secret",
		"   ":                         "holds no secret",
		"whsec_!!!not-base64":         "holds a value (the 1. of 1) that is no secret: whsec_ and base64",
		good + " whsec_!!!not-base64": "holds a value (the 2. of 2) that is no secret: whsec_ and base64",
	} {
		require.Equal(t, want, SecretsProblem(v), v)
	}
}
