package kiln_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sesPeer records the SendEmail requests it gets; internal/mail's tests verify their
// signatures, this one checks that the shop's mails reach SES with the environment's key.
type sesPeer struct {
	mu    sync.Mutex
	sent  []map[string]any
	auths []string
}

func (p *sesPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	raw, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/v2/email/outbound-emails" || json.Unmarshal(raw, &body) != nil {
		http.Error(w, "unexpected request", http.StatusNotFound)
		return
	}
	p.mu.Lock()
	p.sent = append(p.sent, body)
	p.auths = append(p.auths, r.Header.Get("Authorization"))
	p.mu.Unlock()
	_, _ = io.WriteString(w, `{"MessageId":"m-1"}`)
}

func (p *sesPeer) to(addr string) (subjects []string, auths []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, b := range p.sent {
		dest, _ := json.Marshal(b["Destination"])
		if strings.Contains(string(dest), addr) {
			subject := b["Content"].(map[string]any)["Simple"].(map[string]any)["Subject"].(map[string]any)["Data"]
			subjects = append(subjects, subject.(string))
			auths = append(auths, p.auths[i])
		}
	}
	return subjects, auths
}

// The shop on provider ses: the verification mail goes out as a kiln.mail job through
// SendEmail, signed with the environment's credentials for the spec's region; without
// credentials the shop does not start.
func TestShopMailThroughSES(t *testing.T) {
	t.Parallel()
	peer := &sesPeer{}
	srv := httptest.NewServer(peer)
	t.Cleanup(srv.Close)
	env := map[string]string{"KILN_MAIL_PROVIDER": "ses", "AWS_REGION": "eu-west-1", "KILN_SES_ENDPOINT": srv.URL,
		"KILN_MAIL_FROM": "Shop <shop@kiln.test>"}

	_, err := mailShopEnv(t, "sqlite", env)
	require.ErrorContains(t, err, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")

	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "AKIDSHOP", "shop-secret"
	b, err := mailShopEnv(t, "sqlite", env)
	require.NoError(t, err)
	email := fmt.Sprintf("ses-%d@example.com", time.Now().UnixNano())
	signupAndOrder(t, b, email)
	waitFor(t, func() bool { s, _ := peer.to(email); return len(s) == 1 })
	subjects, auths := peer.to(email)
	require.Equal(t, "Confirm your email address", subjects[0])
	require.Contains(t, auths[0], "Credential=AKIDSHOP/")
	require.Contains(t, auths[0], "/eu-west-1/ses/aws4_request")
}
