package auth

import "github.com/kiln-dev/kiln/internal/mail"

// Message is one email (internal/mail).
type Message = mail.Message

// Mailer sends the account mails: verification, password reset, invitations and notices.
type Mailer = mail.Sender
