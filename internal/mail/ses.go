package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
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

// SES sends through SendEmail (POST /v2/email/outbound-emails), signed with SigV4.
type SES struct {
	cfg    SESConfig
	from   *mail.Address
	client *sesv2.Client
}

var _ Sender = (*SES)(nil)

// NewSES checks cfg and returns the sender.
func NewSES(cfg SESConfig) (*SES, error) {
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("mail: ses needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
	}
	if cfg.Region == "" {
		return nil, errors.New("mail: ses needs a region")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey,
		SessionToken: cfg.SessionToken, Source: "kiln environment"}
	opts := sesv2.Options{
		Region: cfg.Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		HTTPClient: cfg.Client,
		// The job retries with backoff and records each attempt; SDK retries inside one
		// attempt would multiply them and hide failures from the delivery log.
		Retryer: aws.NopRetryer{},
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	return &SES{cfg: cfg, from: from, client: sesv2.New(opts)}, nil
}

func (s *SES) input(m Message) (*sesv2.SendEmailInput, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, Permanent(fmt.Errorf("mail: to address: %w", err))
	}
	utf8 := aws.String("UTF-8")
	body := &types.Body{}
	if m.Text != "" || m.HTML == "" {
		body.Text = &types.Content{Data: aws.String(m.Text), Charset: utf8}
	}
	if m.HTML != "" {
		body.Html = &types.Content{Data: aws.String(m.HTML), Charset: utf8}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from.String()),
		Destination:      &types.Destination{ToAddresses: []string{to.String()}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: utf8},
			Body:    body,
		}},
	}
	if s.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigurationSet)
	}
	return in, nil
}

// Send sends m as a simple message (subject, text, html); see classifySES for which
// failures are permanent.
func (s *SES) Send(ctx context.Context, m Message) error {
	in, err := s.input(m)
	if err != nil {
		return err
	}
	out, err := s.client.SendEmail(ctx, in)
	if err != nil {
		return classifySES(err)
	}
	if s.cfg.Logger != nil {
		s.cfg.Logger.InfoContext(ctx, "email sent", "provider", "ses", "to_domain", domainOf(m.To),
			"message_id", aws.ToString(out.MessageId))
	}
	return nil
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
// other bad request (400, 413). Network errors, throttling and 5xx are retried.
func classifySES(err error) error {
	wrapped := fmt.Errorf("mail: ses: %w", err)
	var (
		rejected  *types.MessageRejected
		notVerify *types.MailFromDomainNotVerifiedException
		suspended *types.AccountSuspendedException
		bad       *types.BadRequestException
	)
	if errors.As(err, &rejected) || errors.As(err, &notVerify) || errors.As(err, &suspended) || errors.As(err, &bad) {
		return Permanent(wrapped)
	}
	var api smithy.APIError
	if errors.As(err, &api) && sesRetried(api.ErrorCode()) {
		return wrapped
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		if code := status.HTTPStatusCode(); code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge {
			return Permanent(wrapped)
		}
	}
	return wrapped
}
