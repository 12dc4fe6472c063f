package webhooks

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// SecretPrefix starts every Standard Webhooks secret.
const SecretPrefix = "whsec_"

// Secret is a signing secret; it never prints or logs.
type Secret string

// LogValue hides the secret in logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[secret]") }

// String hides the secret in formatted output.
func (Secret) String() string { return "[secret]" }

// NewSecret draws a whsec_ secret of 32 random bytes from rnd.
func NewSecret(rnd io.Reader) (Secret, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("draw a secret: %w", err)
	}
	return Secret(SecretPrefix + base64.StdEncoding.EncodeToString(b)), nil
}

// CheckSecret tells whether s is a usable whsec_ secret (base64 of at least 24 bytes).
func CheckSecret(s string) error {
	if !strings.HasPrefix(s, SecretPrefix) {
		return fmt.Errorf("a secret starts with %s", SecretPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil || len(b) < 24 || len(b) > 64 {
		return fmt.Errorf("a secret is %s and the base64 of 24 to 64 random bytes", SecretPrefix)
	}
	return nil
}

// Sign returns the webhook-signature header: one "v1,<base64 HMAC-SHA256>" of
// "id.timestamp.body" per secret, space-separated, so that while a secret is rotated a
// receiver holding either verifies (Standard Webhooks).
func Sign(secrets []Secret, id string, at time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(string(s))
		if err != nil {
			return "", fmt.Errorf("signing secret: %w", err)
		}
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// SecretsProblem says what is wrong with an environment value that should hold one or several
// space-separated whsec_ secrets ("" when nothing is), never quoting it.
func SecretsProblem(v string) string {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return "holds no secret"
	}
	for i, f := range fields {
		if _, err := standardwebhooks.NewWebhook(f); err != nil { // what signing and verifying take
			return fmt.Sprintf("holds a value (the %d. of %d) that is no secret: %s and base64", i+1, len(fields), SecretPrefix)
		}
	}
	return ""
}

// splitSecrets reads an environment value holding one or several space-separated secrets.
func splitSecrets(v string) []Secret {
	var out []Secret
	for _, f := range strings.Fields(v) {
		out = append(out, Secret(f))
	}
	return out
}
