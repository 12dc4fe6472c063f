// Package mail sends email: through SMTP, SendGrid's v3 API, Amazon SES (API v2), or — for
// development — by writing each message to a file. Kiln sends mail from jobs, so a sender only
// has to say whether a failure is worth another attempt (Permanent marks those that are not).
package mail

import (
	"context"
	"errors"
	"strings"
)

// Message is one email. Text, HTML or both; From is the sender's default when empty.
type Message struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// Sender sends messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// permanent marks a failure another attempt cannot fix (a refused address, a rejected key).
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent wraps err as a failure not worth retrying.
func Permanent(err error) error { return &permanent{err: err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}
