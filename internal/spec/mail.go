package spec

import (
	"net/mail"
	"slices"

	"github.com/goccy/go-yaml/ast"
)

// Mail configures how Kiln sends email (docs/integrations.md). Secrets (the SMTP password,
// the SendGrid API key) come only from the environment.
type Mail struct {
	Pos Pos
	// From is the sender address, e.g. "Shop <shop@example.com>".
	From string
	// Provider is outbox (files in the data dir, for development), smtp or sendgrid.
	Provider string
	SMTP     MailSMTP
	// SendGridEndpoint overrides https://api.sendgrid.com (a regional or test endpoint).
	SendGridEndpoint string
}

// MailSMTP is an SMTP server.
type MailSMTP struct {
	Host     string
	Port     int
	Username string
	TLS      string // mandatory (default), opportunistic, implicit or none
}

// Mail providers.
const (
	MailOutbox   = "outbox"
	MailSMTPName = "smtp"
	MailSendGrid = "sendgrid"
)

var (
	mailProviders = []string{MailOutbox, MailSMTPName, MailSendGrid}
	mailTLSModes  = []string{"mandatory", "opportunistic", "implicit", "none"}
	mailKeysTop   = []string{"from", "provider", "smtp", "sendgrid"}
)

func (w *walker) mail(n ast.Node, m *Mail) {
	m.Pos = w.pos(n)
	entries, _ := w.mapping(n, "mail", mailKeysTop...)
	for _, e := range entries {
		switch e.key {
		case "from":
			m.From = w.str(e.value, "mail.from")
		case "provider":
			m.Provider = w.str(e.value, "mail.provider")
		case "smtp":
			w.mailSMTP(e.value, &m.SMTP)
		case "sendgrid":
			sg, _ := w.mapping(e.value, "mail.sendgrid", "endpoint")
			for _, s := range sg {
				m.SendGridEndpoint = w.str(s.value, "mail.sendgrid.endpoint")
			}
		}
	}
}

func (w *walker) mailSMTP(n ast.Node, s *MailSMTP) {
	entries, _ := w.mapping(n, "mail.smtp", "host", "port", "username", "tls")
	for _, e := range entries {
		what := "mail.smtp." + e.key
		switch e.key {
		case "host":
			s.Host = w.str(e.value, what)
		case "port":
			if v, ok := w.integer(e.value, what); ok {
				s.Port = int(v)
			}
		case "username":
			s.Username = w.str(e.value, what)
		case "tls":
			s.TLS = w.str(e.value, what)
		}
	}
}

func validateMail(s *Spec, c *collector) {
	m := &s.Mail
	if m.Provider == "" {
		m.Provider = MailOutbox
	}
	if !slices.Contains(mailProviders, m.Provider) {
		c.add(m.Pos, "mail.provider %q is not one of %v", m.Provider, mailProviders)
	}
	if m.From != "" {
		if _, err := mail.ParseAddress(m.From); err != nil {
			c.add(m.Pos, "mail.from %q is not an email address: %v", m.From, err)
		}
	} else if m.Provider != MailOutbox {
		c.add(m.Pos, "mail.from is needed to send with %s", m.Provider)
	}
	if m.Provider == MailSMTPName && m.SMTP.Host == "" {
		c.add(m.Pos, "mail.smtp.host is needed to send with smtp")
	}
	if m.SMTP.TLS == "" {
		m.SMTP.TLS = "mandatory"
	}
	if !slices.Contains(mailTLSModes, m.SMTP.TLS) {
		c.add(m.Pos, "mail.smtp.tls %q is not one of %v", m.SMTP.TLS, mailTLSModes)
	}
	if m.SMTP.Port < 0 || m.SMTP.Port > 65535 {
		c.add(m.Pos, "mail.smtp.port must be between 1 and 65535")
	}
}
