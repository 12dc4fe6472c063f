package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/testdb"
)

// mailpit is a real SMTP server with a REST API (github.com/axllent/mailpit), installed by
// scripts/test.sh; KILN_MAILPIT names the binary.
type mailpit struct {
	t         *testing.T
	bin, db   string
	api, smtp string
	proc      *peer
}

func mailpitBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("KILN_MAILPIT"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("mailpit"); err == nil {
		return bin
	}
	if os.Getenv("KILN_REQUIRE_SERVICES") == "1" {
		t.Fatal("Mailpit is required (KILN_REQUIRE_SERVICES=1): scripts/test.sh installs it and sets KILN_MAILPIT")
	}
	t.Skip("SKIPPED: Mailpit not installed (scripts/test.sh installs it)")
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	m := &mailpit{t: t, bin: mailpitBinary(t), db: filepath.Join(t.TempDir(), "mailpit.db")}
	_, m.proc = startPeer(t, "Mailpit", 2, 30*time.Second, func(a []string) *exec.Cmd {
		m.api, m.smtp = a[0], a[1]
		return m.command()
	}, func([]string) bool { return m.answers() })
	return m
}

func (m *mailpit) command() *exec.Cmd {
	return exec.Command(m.bin, "--listen", m.api, "--smtp", m.smtp, "--database", m.db, "--disable-version-check", "--quiet")
}

func (m *mailpit) answers() bool {
	res, err := http.Get("http://" + m.api + "/api/v1/messages")
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// start starts Mailpit again, after stop, on the same ports and database.
func (m *mailpit) start() {
	m.t.Helper()
	m.proc = runPeer(m.t, m.command())
	waitFor(m.t, m.answers)
}

func (m *mailpit) stop() {
	if m.proc != nil {
		m.proc.stop()
		m.proc = nil
	}
}

// mailpitMessage is a received message as Mailpit's API shows it.
type mailpitMessage struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
	To      []struct {
		Address string `json:"Address"`
	} `json:"To"`
	Text string `json:"Text"`
	HTML string `json:"HTML"`
}

// find returns the messages to addr, with their bodies.
func (m *mailpit) find(addr string) []mailpitMessage {
	m.t.Helper()
	res, err := http.Get("http://" + m.api + "/api/v1/search?query=" + url.QueryEscape("to:"+addr))
	require.NoError(m.t, err)
	defer res.Body.Close()
	var list struct {
		Messages []mailpitMessage `json:"messages"`
	}
	require.NoError(m.t, json.NewDecoder(res.Body).Decode(&list))
	for i, msg := range list.Messages {
		r, err := http.Get("http://" + m.api + "/api/v1/message/" + msg.ID)
		require.NoError(m.t, err)
		require.NoError(m.t, json.NewDecoder(r.Body).Decode(&list.Messages[i]))
		_ = r.Body.Close()
	}
	return list.Messages
}

// mailShop starts the shop sending mail through mp's SMTP server, with workers running.
func mailShop(t *testing.T, dialect string, mp *mailpit) *testBundle {
	t.Helper()
	host, port, err := net.SplitHostPort(mp.smtp)
	require.NoError(t, err)
	env := map[string]string{"KILN_MAIL_PROVIDER": "smtp", "KILN_SMTP_HOST": host, "KILN_SMTP_PORT": port,
		"KILN_SMTP_TLS": "none", "KILN_MAIL_FROM": "Shop <shop@kiln.test>"}
	b, err := mailShopEnv(t, dialect, env)
	require.NoError(t, err)
	return b
}

// mailShopEnv starts the shop with env as its environment, with workers running.
func mailShopEnv(t *testing.T, dialect string, env map[string]string) (*testBundle, error) {
	t.Helper()
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	// Retries come quickly here (at most a second apart), so the outage test waits seconds; and
	// the confirmation gets enough of them to outlast restarting the SMTP server on a loaded
	// machine (eight at most a second apart ran out there once, before Mailpit answered again).
	src := strings.Replace(string(raw), "  queues: {mail: 2}", "  queues: {mail: 2}\n  retry_base: 200ms\n  retry_max: 1s", 1)
	require.NotEqual(t, string(raw), src)
	src, n := strings.Replace(src, "        max_attempts: 8\n", "        max_attempts: 120\n", 1), strings.Count(src, "        max_attempts: 8\n")
	require.Equal(t, 1, n, "the shop's paid_confirmation trigger")
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(src), 0o644))
	copyShopMails(t, dir)
	cfg := kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "migrations"),
		Dev: true, AuthSecret: testSecret, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	if dialect == "postgres" {
		cfg.DatabaseURL = testdb.PostgresURL(t)
	}
	app, err := kiln.New(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() { srv.Close(); require.NoError(t, app.Close()) })
	require.NoError(t, app.Jobs.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, app.Jobs.Stop(context.Background())) })
	b := &testBundle{app: app, srv: srv, t: t, dataDir: dir}
	b.admin = b.token(app.Spec.Auth.AdminRoles[0])
	return b, nil
}

// signupAndOrder signs up a customer and places an order of two kettles as them.
func signupAndOrder(t *testing.T, b *testBundle, email string) (order string, signup response) {
	t.Helper()
	signup = b.anon("POST", "/api/auth/signup", map[string]any{"email": email, "password": "a good password", "name": "Buyer"})
	require.Equal(t, http.StatusCreated, signup.status, string(signup.raw))
	verify := b.do("POST", "/api/auth/verify", map[string]any{}, bearer(signup.body["access_token"].(string))...)
	require.Equal(t, http.StatusAccepted, verify.status, string(verify.raw))
	p := b.product("Kettle", "24.50", 5)
	res := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 2)}}, bearer(signup.body["access_token"].(string))...)
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	return res.body["id"].(string), signup
}

func subjects(msgs []mailpitMessage) map[string]mailpitMessage {
	out := map[string]mailpitMessage{}
	for _, m := range msgs {
		out[m.Subject] = m
	}
	return out
}

// The shop sending through SMTP to a real server: a signup's verification mail and a paid
// order's confirmation (rendered from examples/shop/mails/order_paid.tmpl, text and HTML)
// arrive, each once.
func TestShopMailThroughSMTP(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t)
	eachDialect(t, func(t *testing.T, dialect string) {
		b := mailShop(t, dialect, mp)
		email := fmt.Sprintf("buyer-%s-%d@example.com", dialect, time.Now().UnixNano())
		id, _ := signupAndOrder(t, b, email)
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/orders/"+id, map[string]any{"status": "paid"}).status)
		waitFor(t, func() bool { return len(mp.find(email)) == 2 })
		got := subjects(mp.find(email))
		require.Contains(t, got["Confirm your email address"].Text, "confirm your email address")
		paid := got["Your order is paid"]
		require.Contains(t, paid.Text, "Your order "+id+" is paid")
		require.Contains(t, paid.Text, "Total: 49")
		require.Contains(t, paid.HTML, "<strong>"+id+"</strong>")
		time.Sleep(500 * time.Millisecond)
		require.Len(t, mp.find(email), 2, "each mail once")
		mailJobs, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "kiln.mail"})
		require.NoError(t, err)
		require.Len(t, mailJobs, 1)
		require.NotContains(t, string(mailJobs[0].Args), email, "an account mail's job keeps it sealed")
		require.NotContains(t, string(mailJobs[0].Args), "confirm")
	})
}

// While the SMTP server is down, the confirmation's job fails and waits; once the server is
// back (same address), a retry delivers the mail.
func TestShopMailRetriesWhileSMTPIsDown(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		mp := startMailpit(t)
		b := mailShop(t, dialect, mp)
		email := fmt.Sprintf("patient-%s-%d@example.com", dialect, time.Now().UnixNano())
		id, _ := signupAndOrder(t, b, email)
		waitFor(t, func() bool { return len(mp.find(email)) == 1 })
		waitFor(t, func() bool { // its job ended: no SMTP conversation is cut short by the stop
			list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "kiln.mail"})
			require.NoError(t, err)
			return len(list) == 1 && list[0].State == "completed"
		})
		mp.stop()
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/orders/"+id, map[string]any{"status": "paid"}).status)
		waitFor(t, func() bool {
			list := triggerJobs(t, b)
			return len(list) == 1 && len(list[0].Errors) > 0
		})
		require.NotEqual(t, "completed", triggerJobs(t, b)[0].State, "waiting for its next attempt")
		require.Contains(t, triggerJobs(t, b)[0].Errors[0].Error, "smtp")
		mp.start()
		waitFor(t, func() bool { return len(mp.find(email)) == 2 })
		require.Contains(t, subjects(mp.find(email)), "Your order is paid")
		waitFor(t, func() bool { return triggerJobs(t, b)[0].State == "completed" })
	})
}

// auth.mails replaces a built-in account mail with the spec's template; a missing file is a
// spec error at its line.
func TestAccountMailTemplateFromTheSpec(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	src := strings.Replace(string(raw), "  audience: shop\n", "  audience: shop\n  mails: {verify: mails/verify.tmpl}\n", 1)
	dir := t.TempDir()
	specPath := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(specPath, []byte(src), 0o644))
	copyShopMails(t, dir)
	_, err = kiln.LoadSpec(specPath, noEnv)
	require.ErrorContains(t, err, "auth.mails.verify mails/verify.tmpl")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "mails", "verify.tmpl"),
		[]byte(`{{define "subject"}}Welcome, {{.email}}{{end}}{{define "text"}}Your code:
{{.token}}{{end}}`), 0o644))
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "migrations"),
		Dev: true, LookupEnv: noEnv, AuthSecret: testSecret})
	require.NoError(t, err)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() { srv.Close(); require.NoError(t, app.Close()) })
	b := &testBundle{app: app, srv: srv, t: t, dataDir: dir}
	res := b.anon("POST", "/api/auth/signup", map[string]any{"email": "tmpl@example.com", "password": "a good password"})
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	require.Equal(t, http.StatusAccepted, b.do("POST", "/api/auth/verify", map[string]any{}, bearer(res.body["access_token"].(string))...).status)
	mail := b.mailTo("tmpl@example.com")
	require.Contains(t, mail, "Subject: Welcome, tmpl@example.com")
	require.Contains(t, mail, "Your code:\n")
	require.NotEmpty(t, b.lastMailCode(dir), "the code is on its own line")
}
