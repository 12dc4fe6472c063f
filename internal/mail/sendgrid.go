package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

// SendGridConfig configures the SendGrid v3 sender. APIKey comes from the environment.
type SendGridConfig struct {
	APIKey   string
	From     string
	Endpoint string // default https://api.sendgrid.com
	Client   *http.Client
	Logger   *slog.Logger
}

// SendGrid sends through POST /v3/mail/send.
type SendGrid struct {
	cfg  SendGridConfig
	from *mail.Address
}

var _ Sender = (*SendGrid)(nil)

// NewSendGrid checks cfg and returns the sender.
func NewSendGrid(cfg SendGridConfig) (*SendGrid, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("mail: sendgrid needs an API key (KILN_SENDGRID_API_KEY)")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	cfg.Endpoint = strings.TrimSuffix(cmpOr(cfg.Endpoint, "https://api.sendgrid.com"), "/")
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return &SendGrid{cfg: cfg, from: from}, nil
}

type sgAddress struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

type sgContent struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type sgRequest struct {
	Personalizations []struct {
		To []sgAddress `json:"to"`
	} `json:"personalizations"`
	From    sgAddress   `json:"from"`
	Subject string      `json:"subject"`
	Content []sgContent `json:"content"`
}

func (s *SendGrid) body(m Message) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, Permanent(fmt.Errorf("mail: to address: %w", err))
	}
	req := sgRequest{From: sgAddress{Email: s.from.Address, Name: s.from.Name}, Subject: m.Subject}
	req.Personalizations = make([]struct {
		To []sgAddress `json:"to"`
	}, 1)
	req.Personalizations[0].To = []sgAddress{{Email: to.Address, Name: to.Name}}
	if m.Text != "" || m.HTML == "" {
		req.Content = append(req.Content, sgContent{Type: "text/plain", Value: m.Text})
	}
	if m.HTML != "" {
		req.Content = append(req.Content, sgContent{Type: "text/html", Value: m.HTML})
	}
	return json.Marshal(req)
}

// Send posts m. 2xx is sent; 400 (a refused message) and 413 (too large) are permanent;
// everything else — 401/403 (a wrong or rotated key, fixed in configuration), 429, 5xx — is
// retried.
func (s *SendGrid) Send(ctx context.Context, m Message) error {
	body, err := s.body(m)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Endpoint+"/v3/mail/send", bytes.NewReader(body))
	if err != nil {
		return Permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("mail: sendgrid: %w", err)
	}
	defer res.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		if s.cfg.Logger != nil {
			s.cfg.Logger.InfoContext(ctx, "email sent", "provider", "sendgrid", "to_domain", domainOf(m.To))
		}
		return nil
	case res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusRequestEntityTooLarge:
		return Permanent(fmt.Errorf("mail: sendgrid answered %d: %s", res.StatusCode, strings.TrimSpace(string(excerpt))))
	}
	return fmt.Errorf("mail: sendgrid answered %d", res.StatusCode)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
