package mail

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// OutboxMailer writes each message to a file in Dir (one file per message) and logs that it
// did — never the body, which holds single-use links. For development and tests.
type OutboxMailer struct {
	Dir    string
	Logger *slog.Logger
	mu     sync.Mutex
	n      int
}

var _ Sender = (*OutboxMailer)(nil)

// Send writes the message as <time>-<n>.eml.
func (m *OutboxMailer) Send(ctx context.Context, msg Message) error {
	m.mu.Lock()
	m.n++
	n := m.n
	m.mu.Unlock()
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	name := filepath.Join(m.Dir, fmt.Sprintf("%s-%04d.eml", time.Now().UTC().Format("20060102T150405"), n))
	body := "To: " + msg.To + "\nSubject: " + msg.Subject + "\n\n" + msg.Text + "\n"
	if msg.HTML != "" {
		body += "\n--- HTML ---\n" + msg.HTML + "\n"
	}
	if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if m.Logger != nil {
		m.Logger.InfoContext(ctx, "email written to outbox", "subject", msg.Subject, "file", filepath.Base(name),
			"to_domain", domainOf(msg.To))
	}
	return nil
}
