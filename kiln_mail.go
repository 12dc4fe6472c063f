package kiln

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/mail"
	"github.com/kiln-dev/kiln/internal/spec"
)

// mailKind is the job kind that sends the account mails (verification, reset, invitations,
// notices) through a real provider, so a request never waits for a mail server.
const mailKind = "kiln.mail"

// newSender builds the mail provider the spec names; secrets come from the environment.
func newSender(cfg Config, m spec.Mail) (mail.Sender, error) {
	switch m.Provider {
	case spec.MailSMTPName:
		password, _ := cfg.LookupEnv("KILN_SMTP_PASSWORD")
		return mail.NewSMTP(mail.SMTPConfig{Host: m.SMTP.Host, Port: m.SMTP.Port, Username: m.SMTP.Username, Password: password,
			TLS: m.SMTP.TLS, From: m.From, Logger: cfg.Logger})
	case spec.MailSendGrid:
		key, _ := cfg.LookupEnv("KILN_SENDGRID_API_KEY")
		return mail.NewSendGrid(mail.SendGridConfig{APIKey: key, From: m.From, Endpoint: m.SendGridEndpoint, Logger: cfg.Logger})
	case spec.MailSESName:
		id, _ := cfg.LookupEnv("AWS_ACCESS_KEY_ID")
		secret, _ := cfg.LookupEnv("AWS_SECRET_ACCESS_KEY")
		token, _ := cfg.LookupEnv("AWS_SESSION_TOKEN")
		return mail.NewSES(mail.SESConfig{Region: m.SES.Region, Endpoint: m.SES.Endpoint, ConfigurationSet: m.SES.ConfigurationSet,
			AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, From: m.From, Logger: cfg.Logger})
	}
	return &mail.OutboxMailer{Dir: outboxDir(cfg), Logger: cfg.Logger}, nil
}

// accountMailer is what auth sends through: with a real provider, a job per message (sent
// by a worker, retried with backoff); the development outbox writes the file at once.
func (a *App) accountMailer() mail.Sender {
	if a.Spec.Mail.Provider == spec.MailOutbox {
		return a.sender
	}
	return queuedMailer{a: a}
}

type queuedMailer struct{ a *App }

// Send enqueues m sealed (AES-GCM, a key derived from the auth secret): account mails carry
// single-use codes, which must not sit readable in the jobs table or the jobs admin API.
func (q queuedMailer) Send(ctx context.Context, m mail.Message) error {
	sealed, err := seal(q.a.mailKey, m)
	if err != nil {
		return err
	}
	_, err = q.a.Jobs.Enqueue(ctx, jobs.Request{Kind: mailKind, Args: sealedMail{Sealed: sealed}, Queue: q.a.mailQueue()})
	return err
}

// sealedMail is a kiln.mail job's args.
type sealedMail struct {
	Sealed []byte `json:"sealed"`
}

func seal(key []byte, m mail.Message) ([]byte, error) {
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	aead, err := mailAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte(mailKind)), nil
}

func unseal(key, sealed []byte) (mail.Message, error) {
	var m mail.Message
	aead, err := mailAEAD(key)
	if err != nil {
		return m, err
	}
	if len(sealed) < aead.NonceSize() {
		return m, errors.New("a sealed mail too short to open")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(mailKind))
	if err != nil {
		return m, errors.New("the sealed mail does not open with this secret (KILN_AUTH_SECRET changed?)")
	}
	return m, json.Unmarshal(plain, &m)
}

func mailAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("no key to seal account mails with")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// mailQueue is the queue mails run on: "mail" when the spec declares it.
func (a *App) mailQueue() string {
	if a.Spec.Jobs.Queues["mail"] > 0 {
		return "mail"
	}
	return jobs.DefaultQueue
}

// mailJobKind sends one queued account mail.
func (a *App) mailJobKind() jobs.Kind {
	return jobs.Kind{Name: mailKind, Handle: func(ctx context.Context, j *jobs.Job) error {
		var args sealedMail
		if err := json.Unmarshal(j.Args, &args); err != nil {
			return jobs.Permanent(fmt.Errorf("a mail job without its message: %w", err))
		}
		m, err := unseal(a.mailKey, args.Sealed)
		if err != nil {
			return jobs.Permanent(err)
		}
		return a.send(ctx, m)
	}}
}

// send delivers m through the provider; a failure waiting cannot fix cancels the job.
func (a *App) send(ctx context.Context, m mail.Message) error {
	err := a.sender.Send(ctx, m)
	if err != nil && mail.IsPermanent(err) {
		return jobs.Permanent(err)
	}
	return err
}
