package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of an SMTP server.
const (
	TLSMandatory     = "mandatory"     // STARTTLS, refuse to send without it
	TLSOpportunistic = "opportunistic" // STARTTLS when offered
	TLSImplicit      = "implicit"      // TLS from the first byte (port 465)
	TLSNone          = "none"          // plain text (a local test server)
)

// SMTPConfig configures an SMTP sender. Password comes from the environment.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string // one of the TLS modes; default mandatory
	From     string
	Timeout  time.Duration // per message; default 30s
	Logger   *slog.Logger
}

// SMTP sends each message over its own connection (go-mail).
type SMTP struct{ cfg SMTPConfig }

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns the sender.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" || cfg.From == "" {
		return nil, errors.New("mail: smtp needs a host and a from address")
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSMandatory
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if _, err := (&SMTP{cfg: cfg}).options(cfg.Timeout); err != nil {
		return nil, err
	}
	return &SMTP{cfg: cfg}, nil
}

func (s *SMTP) options(timeout time.Duration) ([]gomail.Option, error) {
	opts := []gomail.Option{gomail.WithTimeout(timeout)}
	if s.cfg.Port > 0 {
		opts = append(opts, gomail.WithPort(s.cfg.Port))
	}
	switch s.cfg.TLS {
	case TLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("mail: smtp tls %q is not mandatory, opportunistic, implicit or none", s.cfg.TLS)
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return opts, nil
}

// Send delivers m. A refused recipient or message is permanent; a connection, server or
// authentication failure is worth another attempt.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return Permanent(fmt.Errorf("mail: from address: %w", err))
	}
	if err := msg.To(m.To); err != nil {
		return Permanent(fmt.Errorf("mail: to address: %w", err))
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	opts, err := s.options(within(ctx, s.cfg.Timeout))
	if err != nil {
		return Permanent(err)
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return Permanent(fmt.Errorf("mail: smtp client: %w", err))
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err != nil && !msg.IsDelivered() {
		return classify(err)
	}
	// Once the server answered the message's data with 250 it has the message: a failure of
	// the RSET or QUIT after it is no reason to send it again (a retry would deliver it twice).
	if s.cfg.Logger != nil {
		s.cfg.Logger.InfoContext(ctx, "email sent", "provider", "smtp", "to_domain", domainOf(m.To), "closed_cleanly", err == nil)
	}
	return nil
}

// classify marks a refusal of the address or the message (550–554) permanent; connection
// failures, 4xx answers and authentication failures (530, 535: a wrong or rotated password,
// fixed in configuration) are retried.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() {
		if code := se.ErrorCode(); code >= 550 && code <= 554 {
			return Permanent(fmt.Errorf("mail: smtp: %w", err))
		}
	}
	return fmt.Errorf("mail: smtp: %w", err)
}

// within is timeout, or what is left of ctx's deadline when that is sooner: go-mail bounds the
// connection by its own timeout and heeds the context only while dialing, so a job's timeout
// (a trigger's 20 s) did not bound a server that accepted and never answered (30 s; a trial).
func within(ctx context.Context, timeout time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			return max(left, time.Millisecond)
		}
	}
	return timeout
}
