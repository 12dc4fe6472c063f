package mail

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SESConfig configures the Amazon SES (API v2) sender. The credentials come from the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
type SESConfig struct {
	Region           string
	Endpoint         string // default: the region's endpoint; a VPC endpoint or a test server
	ConfigurationSet string // optional
	AccessKeyID      string
	SecretAccessKey  string
	SessionToken     string // optional: temporary credentials
	From             string
	Client           *http.Client
	Logger           *slog.Logger
}

// SES sends through SendEmail (POST /v2/email/outbound-emails), signed with SigV4. It speaks
// the one REST-JSON call itself, with the SDK's signer: the SDK's SES client would put half a
// megabyte of operation schemas on the heap of every process, mail or no mail.
type SES struct {
	cfg    SESConfig
	from   *mail.Address
	url    string
	creds  aws.Credentials
	signer *v4.Signer
	skew   atomic.Int64 // how far SES's clock is ahead of this host's (ns), learnt from its Date header
}

var _ Sender = (*SES)(nil)

var sesRegionName = regexp.MustCompile(`^[a-z]{2,4}(-[a-z0-9]+)+$`)

// sesDomains are the DNS suffixes of the AWS partitions other than the commercial one
// (amazonaws.com), by region prefix, longest first.
var sesDomains = []struct{ prefix, domain string }{
	{"us-isob-", "sc2s.sgov.gov"}, {"us-isof-", "csp.hci.ic.gov"}, {"eu-isoe-", "cloud.adc-e.uk"},
	{"us-iso-", "c2s.ic.gov"}, {"eusc-", "amazonaws.eu"}, {"cn-", "amazonaws.com.cn"},
}

// sesEndpoint is the region's SES endpoint; a FIPS endpoint is set with endpoint.
func sesEndpoint(region string) (string, error) {
	if strings.Contains(region, "fips") {
		return "", fmt.Errorf("mail: ses region %q: set the endpoint for FIPS (https://email-fips.<region>.amazonaws.com) and the region without fips", region)
	}
	for _, d := range sesDomains {
		if strings.HasPrefix(region, d.prefix) {
			return "https://email." + region + "." + d.domain, nil
		}
	}
	return "https://email." + region + ".amazonaws.com", nil
}

// NewSES checks cfg and returns the sender.
func NewSES(cfg SESConfig) (*SES, error) {
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("mail: ses needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
	}
	if cfg.Region == "" {
		return nil, errors.New("mail: ses needs a region")
	}
	if !sesRegionName.MatchString(cfg.Region) {
		return nil, fmt.Errorf("mail: ses region %q is not a region name such as eu-west-1", cfg.Region)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	base := strings.TrimRight(cfg.Endpoint, "/")
	if base == "" {
		if base, err = sesEndpoint(cfg.Region); err != nil {
			return nil, err
		}
	}
	creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey,
		SessionToken: cfg.SessionToken, Source: "kiln environment"}
	return &SES{cfg: cfg, from: from, url: base + "/v2/email/outbound-emails", creds: creds, signer: v4.NewSigner()}, nil
}

// sesContent, sesBody and sesRequest are SendEmail's request with simple content.
type sesContent struct {
	Data    string `json:"Data"`
	Charset string `json:"Charset"`
}

type sesBody struct {
	Text *sesContent `json:"Text,omitempty"`
	HTML *sesContent `json:"Html,omitempty"`
}

type sesRequest struct {
	FromEmailAddress string `json:"FromEmailAddress"`
	Destination      struct {
		ToAddresses []string `json:"ToAddresses"`
	} `json:"Destination"`
	ConfigurationSetName string `json:"ConfigurationSetName,omitempty"`
	Content              struct {
		Simple struct {
			Subject sesContent `json:"Subject"`
			Body    sesBody    `json:"Body"`
		} `json:"Simple"`
	} `json:"Content"`
}

func (s *SES) input(m Message) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, Permanent(fmt.Errorf("mail: to address: %w", err))
	}
	var in sesRequest
	in.FromEmailAddress, in.ConfigurationSetName = s.from.String(), s.cfg.ConfigurationSet
	in.Destination.ToAddresses = []string{to.String()}
	in.Content.Simple.Subject = sesContent{Data: m.Subject, Charset: "UTF-8"}
	if m.Text != "" || m.HTML == "" {
		in.Content.Simple.Body.Text = &sesContent{Data: m.Text, Charset: "UTF-8"}
	}
	if m.HTML != "" {
		in.Content.Simple.Body.HTML = &sesContent{Data: m.HTML, Charset: "UTF-8"}
	}
	return json.Marshal(in)
}

// Send sends m as a simple message (subject, text, html); see classifySES for which
// failures are permanent. It makes one attempt: the job retries with backoff and records
// each attempt.
func (s *SES) Send(ctx context.Context, m Message) error {
	body, err := s.input(m)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("mail: ses: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	sent := time.Now()
	if err := s.signer.SignHTTP(ctx, s.creds, req, hex.EncodeToString(sum[:]), "ses", s.cfg.Region, sent.Add(time.Duration(s.skew.Load()))); err != nil {
		return Permanent(fmt.Errorf("mail: ses: sign: %w", err))
	}
	res, err := s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("mail: ses: %w", err)
	}
	defer res.Body.Close()
	s.learnSkew(ctx, res.Header.Get("Date"), sent, time.Now())
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return classifySES(sesError(res, answer))
	}
	var out struct{ MessageId string }
	_ = json.Unmarshal(answer, &out)
	if s.cfg.Logger != nil {
		s.cfg.Logger.InfoContext(ctx, "email sent", "provider", "ses", "to_domain", domainOf(m.To), "message_id", out.MessageId)
	}
	return nil
}

// learnSkew keeps how far SES's clock (its answer's Date) is from this host's when that is
// more than SigV4 tolerates: a host whose clock is off has every signature refused (403), so
// the next attempt signs with SES's time instead — as the AWS SDK does.
func (s *SES) learnSkew(ctx context.Context, date string, sent, answered time.Time) {
	at, err := http.ParseTime(date)
	if err != nil {
		return
	}
	d := at.Sub(sent.Add(answered.Sub(sent) / 2))
	if d.Abs() < 4*time.Minute {
		d = 0
	}
	if old := s.skew.Swap(int64(d)); old != int64(d) && d != 0 && s.cfg.Logger != nil {
		s.cfg.Logger.WarnContext(ctx, "ses: this host's clock is off; signing with SES's time", "skew_s", int64(d.Seconds()))
	}
}

// SESError is an answer of SES other than success: its HTTP status, error code (the
// X-Amzn-ErrorType header, or the body's __type or code) and message.
type SESError struct {
	Status  int
	Code    string
	Message string
}

func (e *SESError) Error() string {
	return fmt.Sprintf("status %d %s: %s", e.Status, e.Code, e.Message)
}

func sesError(res *http.Response, answer []byte) *SESError {
	var b struct {
		Type    string `json:"__type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Upper   string `json:"Message"`
	}
	_ = json.Unmarshal(answer, &b)
	code := cmp.Or(res.Header.Get("X-Amzn-ErrorType"), b.Type, b.Code)
	// "MessageRejected:http://internal.amazon.com/…" or "aws.ses#MessageRejected"
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	msg := cmp.Or(b.Message, b.Upper)
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return &SESError{Status: res.StatusCode, Code: code, Message: msg}
}

// sesRetried reports the error codes worth another attempt even though some come with a
// 4xx: throttling and quotas (they pass), a paused account or a missing configuration set,
// and rejected or expired credentials — fixed in configuration, as with SendGrid's 401, so
// the mails wait instead of being dropped.
func sesRetried(code string) bool {
	switch code {
	case "TooManyRequestsException", "LimitExceededException", "ThrottlingException", "Throttling",
		"RequestLimitExceeded", "SendingPausedException", "NotFoundException",
		"UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
		"InvalidSignatureException", "IncompleteSignature", "ExpiredToken", "ExpiredTokenException",
		"RequestExpired", "AccessDenied", "AccessDeniedException", "MissingAuthenticationToken":
		return true
	}
	return false
}

// classifySES marks failures another attempt cannot fix permanent: the message or the
// sender refused (MessageRejected, MailFromDomainNotVerified), a suspended account, and any
// other bad request (400, 413). Throttling, quotas, rejected credentials and 5xx are retried.
func classifySES(e *SESError) error {
	wrapped := fmt.Errorf("mail: ses: %w", e)
	switch {
	case e.Code == "MessageRejected" || e.Code == "MailFromDomainNotVerifiedException" ||
		e.Code == "AccountSuspendedException" || e.Code == "BadRequestException":
		return Permanent(wrapped)
	case sesRetried(e.Code):
		return wrapped
	case e.Status == http.StatusBadRequest || e.Status == http.StatusRequestEntityTooLarge:
		return Permanent(wrapped)
	}
	return wrapped
}
