package spec

import (
	"cmp"
	"net/mail"
	"regexp"
	"slices"

	"github.com/goccy/go-yaml/ast"

	"github.com/kiln-dev/kiln/internal/value"
)

// Mail configures how Kiln sends email (docs/integrations.md). Secrets (the SMTP password,
// the SendGrid API key, the AWS credentials) come only from the environment.
type Mail struct {
	Pos Pos
	// KeyPos holds where each value given is written: from, provider, smtp.host, smtp.port …
	KeyPos map[string]Pos
	// From is the sender address, e.g. "Shop <shop@example.com>".
	From string
	// Provider is outbox (files in the data dir, for development), smtp, sendgrid or ses.
	Provider string
	SMTP     MailSMTP
	// SendGridEndpoint overrides https://api.sendgrid.com (a regional or test endpoint).
	SendGridEndpoint string
	SES              MailSES
}

// MailSES is Amazon SES (API v2). The credentials come from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN only.
type MailSES struct {
	Pos Pos
	// Region is the AWS region, e.g. eu-west-1; needed to send with ses.
	Region string
	// Endpoint overrides the regional endpoint (a VPC endpoint or a test server).
	Endpoint string
	// ConfigurationSet names the SES configuration set each message is sent with.
	ConfigurationSet string
	// KeyPos holds the position of each key given, for errors.
	KeyPos map[string]Pos
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
	MailSESName  = "ses"
)

var (
	mailProviders = []string{MailOutbox, MailSMTPName, MailSendGrid, MailSESName}
	mailTLSModes  = []string{"mandatory", "opportunistic", "implicit", "none"}
	mailKeysTop   = []string{"from", "provider", "smtp", "sendgrid", "ses"}
	// sesRegion is an AWS region name (us-east-1, eu-central-2, us-gov-west-1).
	sesRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// sesConfigSet is an SES configuration set name: letters, digits, - and _, at most 64.
	sesConfigSet = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// at is where the value of key is written, or the mail block's position.
func (m *Mail) at(key string) Pos { return keyAt(m.KeyPos, m.Pos, key) }

func (w *walker) mail(n ast.Node, m *Mail) {
	m.Pos, m.KeyPos = w.pos(n), map[string]Pos{}
	entries, _ := w.mapping(n, "mail", mailKeysTop...)
	for _, e := range entries {
		m.KeyPos[e.key] = w.pos(e.value)
		switch e.key {
		case "from":
			m.From = w.str(e.value, "mail.from")
		case "provider":
			m.Provider = w.str(e.value, "mail.provider")
		case "smtp":
			w.mailSMTP(e.value, &m.SMTP, m.KeyPos)
		case "ses":
			w.mailSES(e.value, &m.SES)
		case "sendgrid":
			sg, _ := w.mapping(e.value, "mail.sendgrid", "endpoint")
			for _, s := range sg {
				m.SendGridEndpoint = w.str(s.value, "mail.sendgrid.endpoint")
			}
		}
	}
}

func (w *walker) mailSMTP(n ast.Node, s *MailSMTP, keyPos map[string]Pos) {
	entries, _ := w.mapping(n, "mail.smtp", "host", "port", "username", "tls")
	for _, e := range entries {
		what := "mail.smtp." + e.key
		keyPos["smtp."+e.key] = w.pos(e.value)
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

func (w *walker) mailSES(n ast.Node, s *MailSES) {
	s.Pos = w.pos(n)
	s.KeyPos = map[string]Pos{}
	entries, _ := w.mapping(n, "mail.ses", "region", "endpoint", "configuration_set")
	for _, e := range entries {
		s.KeyPos[e.key] = w.pos(e.value)
		what := "mail.ses." + e.key
		switch e.key {
		case "region":
			s.Region = w.str(e.value, what)
		case "endpoint":
			s.Endpoint = w.str(e.value, what)
		case "configuration_set":
			s.ConfigurationSet = w.str(e.value, what)
		}
	}
}

// validateSES checks the SES block, each problem at its key (the block, or mail, when absent).
func validateSES(m *Mail, c *collector) {
	s := &m.SES
	at := func(key string) Pos {
		if p, ok := s.KeyPos[key]; ok {
			return p
		}
		return cmp.Or(s.Pos, m.Pos)
	}
	if m.Provider == MailSESName && s.Region == "" {
		c.add(at("region"), "mail.ses.region is needed to send with ses (e.g. eu-west-1)")
	}
	if s.Region != "" && !sesRegion.MatchString(s.Region) {
		c.add(at("region"), "mail.ses.region %q is not an AWS region name (e.g. eu-west-1)", s.Region)
	}
	if s.Endpoint != "" {
		if !value.IsWebURL(s.Endpoint) {
			c.add(at("endpoint"), "mail.ses.endpoint %q is not an http(s) URL", s.Endpoint)
		}
	}
	if s.ConfigurationSet != "" && !sesConfigSet.MatchString(s.ConfigurationSet) {
		c.add(at("configuration_set"), "mail.ses.configuration_set %q is not a configuration set name (letters, digits, - and _, at most 64)", s.ConfigurationSet)
	}
}

func validateMail(s *Spec, c *collector) {
	m := &s.Mail
	if m.Provider == "" {
		m.Provider = MailOutbox
	}
	if !slices.Contains(mailProviders, m.Provider) {
		c.add(m.at("provider"), "mail.provider %q is not one of %v", m.Provider, mailProviders)
	}
	if m.From != "" {
		if _, err := mail.ParseAddress(m.From); err != nil {
			c.add(m.at("from"), "mail.from %q is not an email address: %v", m.From, err)
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
		c.add(m.at("smtp.tls"), "mail.smtp.tls %q is not one of %v", m.SMTP.TLS, mailTLSModes)
	}
	if m.SMTP.Port < 0 || m.SMTP.Port > 65535 {
		c.add(m.at("smtp.port"), "mail.smtp.port must be between 1 and 65535")
	}
	validateSES(m, c)
}
