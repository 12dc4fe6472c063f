package mail

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The test credentials: the server knows the secret, the sender may be given another.
const (
	sesKeyID  = "AKIDKILNTEST"
	sesSecret = "kiln-test-secret-key"
	sesRegion = "eu-west-1"
)

// sesServer is a local SES v2 endpoint: it verifies each request's SigV4 signature against
// the test credentials (403 SignatureDoesNotMatch when it does not hold), records the JSON
// body, and answers with the status and error type the test sets.
type sesServer struct {
	mu      sync.Mutex
	bodies  []map[string]any
	headers []http.Header
	status  int
	errType string
	ahead   time.Duration // how far the server's clock is ahead of the test's
}

func (s *sesServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	now := time.Now().Add(s.ahead)
	s.mu.Unlock()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	if err := verifySigV4(r, body, sesKeyID, sesSecret, sesRegion, "ses", now); err != nil {
		sesAnswer(w, http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
		return
	}
	s.mu.Lock()
	status, errType := s.status, s.errType
	var got map[string]any
	if err := json.Unmarshal(body, &got); err == nil {
		s.bodies = append(s.bodies, got)
		s.headers = append(s.headers, r.Header.Clone())
	}
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" || got == nil {
		sesAnswer(w, http.StatusNotFound, "UnknownOperationException", r.Method+" "+r.URL.Path)
		return
	}
	if status >= 300 {
		sesAnswer(w, status, errType, "refused by the test")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"MessageId":"0102-test"}`)
}

func (s *sesServer) answer(status int, errType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.errType = status, errType
}

func (s *sesServer) last() (map[string]any, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) == 0 {
		return nil, nil
	}
	return s.bodies[len(s.bodies)-1], s.headers[len(s.headers)-1]
}

// sesAnswer writes an error the way SES's REST-JSON protocol does.
func sesAnswer(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if errType != "" {
		w.Header().Set("X-Amzn-ErrorType", errType)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// verifySigV4 recomputes the AWS Signature Version 4 of r from its canonical request, by
// hand (not with the SDK that signed it), and compares it with the Authorization header.
func verifySigV4(r *http.Request, body []byte, keyID, secret, region, service string, now time.Time) error {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		return errors.New("no AWS4-HMAC-SHA256 authorization")
	}
	f := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		f[k] = v
	}
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || now.Sub(at).Abs() > 5*time.Minute {
		return fmt.Errorf("X-Amz-Date %q is not now", amzDate)
	}
	scope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	if f["Credential"] != keyID+"/"+scope {
		return fmt.Errorf("credential %q, want %s/%s", f["Credential"], keyID, scope)
	}
	signed := strings.Split(f["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return fmt.Errorf("signed headers %v leave out host or x-amz-date", signed)
	}
	sum := sha256.Sum256(body)
	canonical := strings.Join([]string{r.Method, r.URL.EscapedPath(), canonicalQuery(r.URL.Query()),
		canonicalHeaders(r, signed), f["SignedHeaders"], hex.EncodeToString(sum[:])}, "\n")
	hashed := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(hashed[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{amzDate[:8], region, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(f["Signature"])) {
		return errors.New("the request signature does not match")
	}
	return nil
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			parts = append(parts, url.QueryEscape(k)+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return strings.Join(parts, "&")
}

// canonicalHeaders renders the signed headers (the server moved Host and Content-Length
// out of the header map), each line "name:value\n" with runs of spaces folded.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, name := range names {
		var v string
		switch name {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(name)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		b.WriteString(name + ":" + v + "\n")
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func newSESServer(t *testing.T) (*sesServer, *httptest.Server) {
	t.Helper()
	s := &sesServer{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func newTestSES(t *testing.T, endpoint, secret, token string) *SES {
	t.Helper()
	s, err := NewSES(SESConfig{Region: sesRegion, Endpoint: endpoint, ConfigurationSet: "shop-mail",
		AccessKeyID: sesKeyID, SecretAccessKey: secret, SessionToken: token, From: "Shop <shop@example.com>"})
	require.NoError(t, err)
	return s
}

// SES's request is SendEmail with simple content, signed with SigV4 for the region; the
// local server checks the signature by hand, so a wrong secret is refused with 403.
func TestSESRequestAndSignature(t *testing.T) {
	t.Parallel()
	srv, hs := newSESServer(t)
	msg := Message{To: "Ann <ann@example.com>", Subject: "Hi ✓", Text: "plain", HTML: "<p>rich</p>"}

	require.NoError(t, newTestSES(t, hs.URL, sesSecret, "").Send(context.Background(), msg))
	got, _ := srv.last()
	want := `{"FromEmailAddress":"\"Shop\" <shop@example.com>","Destination":{"ToAddresses":["\"Ann\" <ann@example.com>"]},` +
		`"ConfigurationSetName":"shop-mail","Content":{"Simple":{"Subject":{"Data":"Hi ✓","Charset":"UTF-8"},` +
		`"Body":{"Text":{"Data":"plain","Charset":"UTF-8"},"Html":{"Data":"<p>rich</p>","Charset":"UTF-8"}}}}}`
	raw, _ := json.Marshal(got)
	require.JSONEq(t, want, string(raw))

	t.Run("SessionTokenIsSentAndSigned", func(t *testing.T) {
		require.NoError(t, newTestSES(t, hs.URL, sesSecret, "session-token-1").Send(context.Background(), Message{To: "b@example.com", Subject: "x", HTML: "<b>only</b>"}))
		got, h := srv.last()
		require.Equal(t, "session-token-1", h.Get("X-Amz-Security-Token"))
		require.Contains(t, h.Get("Authorization"), "x-amz-security-token")
		body := got["Content"].(map[string]any)["Simple"].(map[string]any)["Body"].(map[string]any)
		require.NotContains(t, body, "Text", "an HTML-only message has no text part")
	})
	t.Run("ClockOffIsLearnt", func(t *testing.T) {
		srv, hs := newSESServer(t)
		srv.mu.Lock()
		srv.ahead = 20 * time.Minute
		srv.mu.Unlock()
		s := newTestSES(t, hs.URL, sesSecret, "")
		err := s.Send(context.Background(), msg)
		require.ErrorContains(t, err, "403", "signed with this host's clock, 20 minutes behind SES's")
		require.False(t, IsPermanent(err))
		require.NoError(t, s.Send(context.Background(), msg), "the next attempt signs with SES's time")
		srv.mu.Lock()
		srv.ahead = 0
		srv.mu.Unlock()
		require.ErrorContains(t, s.Send(context.Background(), msg), "403", "this host's clock was put right: the skew learnt is wrong now")
		require.Zero(t, s.skew.Load(), "and is forgotten")
		require.NoError(t, s.Send(context.Background(), msg), "the clocks agree: it signs with its own again")
	})
	t.Run("WrongSecretIsRefused", func(t *testing.T) {
		err := newTestSES(t, hs.URL, "not-the-secret", "").Send(context.Background(), msg)
		require.ErrorContains(t, err, "403")
		require.ErrorContains(t, err, "SignatureDoesNotMatch")
		require.False(t, IsPermanent(err), "rejected credentials are fixed in configuration: the mail waits")
		require.NotContains(t, err.Error(), "not-the-secret")
	})
}

// Refusals of the message, the sender or the account are permanent; throttling, quotas, 5xx,
// rejected credentials and an unreachable endpoint are worth another attempt.
func TestSESAnswers(t *testing.T) {
	t.Parallel()
	srv, hs := newSESServer(t)
	s := newTestSES(t, hs.URL, sesSecret, "")
	msg := Message{To: "ann@example.com", Subject: "Hi", Text: "plain"}
	for _, tc := range []struct {
		status    int
		errType   string
		permanent bool
	}{
		{status: 400, errType: "MessageRejected", permanent: true},
		{status: 400, errType: "MessageRejected:http://internal.amazon.com/coral/com.amazonaws.sesv2/", permanent: true},
		{status: 400, errType: "MailFromDomainNotVerifiedException", permanent: true},
		{status: 400, errType: "AccountSuspendedException", permanent: true},
		{status: 400, errType: "BadRequestException", permanent: true},
		{status: 400, errType: "SerializationException", permanent: true},
		{status: 413, errType: "", permanent: true},
		{status: 429, errType: "TooManyRequestsException"},
		{status: 400, errType: "ThrottlingException"},
		{status: 400, errType: "LimitExceededException"},
		{status: 400, errType: "SendingPausedException"},
		{status: 404, errType: "NotFoundException"},
		{status: 403, errType: "UnrecognizedClientException"},
		{status: 400, errType: "ExpiredTokenException"},
		{status: 500, errType: "InternalFailure"},
		{status: 503, errType: ""},
	} {
		srv.answer(tc.status, tc.errType)
		err := s.Send(context.Background(), msg)
		require.Error(t, err, "%d %s", tc.status, tc.errType)
		require.Equal(t, tc.permanent, IsPermanent(err), "%d %s: %v", tc.status, tc.errType, err)
	}
	srv.answer(400, "MessageRejected")
	var rejected *SESError
	require.ErrorAs(t, s.Send(context.Background(), msg), &rejected, "the SES error stays inspectable")
	require.Equal(t, "MessageRejected", rejected.Code)
	require.Equal(t, http.StatusBadRequest, rejected.Status)

	t.Run("Unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		err = newTestSES(t, "http://"+addr, sesSecret, "").Send(context.Background(), msg)
		require.Error(t, err)
		require.False(t, IsPermanent(err))
	})
	t.Run("BadAddressIsPermanent", func(t *testing.T) {
		require.True(t, IsPermanent(s.Send(context.Background(), Message{To: "not an address", Subject: "x"})))
	})
}

func TestSESConfig(t *testing.T) {
	t.Parallel()
	_, err := NewSES(SESConfig{Region: sesRegion, From: "shop@example.com", AccessKeyID: sesKeyID})
	require.ErrorContains(t, err, "AWS_SECRET_ACCESS_KEY")
	_, err = NewSES(SESConfig{Region: sesRegion, From: "shop@example.com", SecretAccessKey: sesSecret})
	require.ErrorContains(t, err, "AWS_ACCESS_KEY_ID")
	_, err = NewSES(SESConfig{From: "shop@example.com", AccessKeyID: sesKeyID, SecretAccessKey: sesSecret})
	require.ErrorContains(t, err, "region")
	_, err = NewSES(SESConfig{Region: sesRegion, From: "nobody", AccessKeyID: sesKeyID, SecretAccessKey: sesSecret})
	require.ErrorContains(t, err, "from address")
	_, err = NewSES(SESConfig{Region: "eu-west-1.evil.example/x", From: "shop@example.com", AccessKeyID: sesKeyID, SecretAccessKey: sesSecret})
	require.ErrorContains(t, err, "not a region name")
	_, err = NewSES(SESConfig{Region: "us-gov-west-1-fips", From: "shop@example.com", AccessKeyID: sesKeyID, SecretAccessKey: sesSecret})
	require.ErrorContains(t, err, "set the endpoint for FIPS")
	for region, want := range map[string]string{"eu-west-1": "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails",
		"cn-north-1":     "https://email.cn-north-1.amazonaws.com.cn/v2/email/outbound-emails",
		"us-gov-west-1":  "https://email.us-gov-west-1.amazonaws.com/v2/email/outbound-emails",
		"eusc-de-east-1": "https://email.eusc-de-east-1.amazonaws.eu/v2/email/outbound-emails",
		"us-iso-east-1":  "https://email.us-iso-east-1.c2s.ic.gov/v2/email/outbound-emails",
		"us-isob-east-1": "https://email.us-isob-east-1.sc2s.sgov.gov/v2/email/outbound-emails"} {
		s, err := NewSES(SESConfig{Region: region, From: "shop@example.com", AccessKeyID: sesKeyID, SecretAccessKey: sesSecret})
		require.NoError(t, err)
		require.Equal(t, want, s.url)
	}
}
