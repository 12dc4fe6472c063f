package mail

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// SendGrid's request has the v3 shape and the bearer key; 2xx sends, 400 and 413 are
// permanent, anything else (a rejected key, 429, 5xx) is worth another attempt.
func TestSendGridRequestAndAnswers(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/v3/mail/send", r.URL.Path)
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "Bearer SG.test-key", r.Header.Get("Authorization"))
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"errors":[{"message":"nope"}]}`))
	}))
	t.Cleanup(srv.Close)
	s, err := NewSendGrid(SendGridConfig{APIKey: "SG.test-key", From: "Shop <shop@example.com>", Endpoint: srv.URL + "/"})
	require.NoError(t, err)
	msg := Message{To: "Ann <ann@example.com>", Subject: "Hi", Text: "plain", HTML: "<p>rich</p>"}

	status.Store(http.StatusAccepted)
	require.NoError(t, s.Send(context.Background(), msg))
	want := `{"personalizations":[{"to":[{"email":"ann@example.com","name":"Ann"}]}],"from":{"email":"shop@example.com","name":"Shop"},` +
		`"subject":"Hi","content":[{"type":"text/plain","value":"plain"},{"type":"text/html","value":"<p>rich</p>"}]}`
	raw, _ := json.Marshal(got)
	require.JSONEq(t, want, string(raw))

	for code, perm := range map[int]bool{429: false, 500: false, 503: false, 401: false, 403: false, 400: true, 413: true} {
		status.Store(int32(code))
		err := s.Send(context.Background(), msg)
		require.Error(t, err, code)
		require.Equal(t, perm, IsPermanent(err), "status %d", code)
		require.NotContains(t, err.Error(), "SG.test-key", "the key never appears in an error")
	}
	require.True(t, IsPermanent(s.Send(context.Background(), Message{To: "not an address", Subject: "x"})))
	_, err = NewSendGrid(SendGridConfig{From: "shop@example.com"})
	require.ErrorContains(t, err, "KILN_SENDGRID_API_KEY")
}

// A template renders subject on one line, text trimmed, and html escaped.
func TestTemplateRendersAndEscapes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.tmpl")
	src := `{{define "subject"}}Order
 {{.new.id}}{{end}}{{define "text"}}
Hello {{.new.name}}
{{end}}{{define "html"}}<p>{{.new.name}}</p>{{end}}`
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	tm, err := LoadTemplate(path)
	require.NoError(t, err)
	require.True(t, tm.HasSubject())
	var m Message
	require.NoError(t, tm.Render(map[string]any{"new": map[string]any{"id": "7", "name": "<script>x</script>"}}, &m))
	require.Equal(t, "Order 7", m.Subject)
	require.Equal(t, "Hello <script>x</script>\n", m.Text)
	require.Equal(t, "<p>&lt;script&gt;x&lt;/script&gt;</p>", m.HTML)

	require.NoError(t, os.WriteFile(path, []byte(`{{define "subject"}}x{{end}}`), 0o644))
	_, err = LoadTemplate(path)
	require.ErrorContains(t, err, "neither")
	require.NoError(t, os.WriteFile(path, []byte(`{{define "text"}}{{.x{{end}}`), 0o644))
	_, err = LoadTemplate(path)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "m.tmpl"), err.Error())
}

// {{fixed N value}} writes a number with N places, exactly and rounded half away from zero, in
// text and HTML alike: a decimal reaches a template as a json.Number, and printf "%.2f" wrote
// "%!f(json.Number=25)" (a trial; logic.md sent readers to templates for fixed places).
func TestTemplateFixedPlaces(t *testing.T) {
	t.Parallel()
	tm, err := ParseTemplate("m.tmpl", `{{define "text"}}{{fixed 2 .new.total}} {{fixed 2 .new.tax}} {{fixed 0 .new.n}} [{{fixed 2 .new.none}}]{{end}}{{define "html"}}<b>{{fixed 2 .new.total}}</b>{{end}}`)
	require.NoError(t, err)
	var m Message
	data := map[string]any{"new": map[string]any{"total": json.Number("25.5"), "tax": json.Number("0.125"), "n": int64(3)}}
	require.NoError(t, tm.Render(data, &m))
	require.Equal(t, "25.50 0.13 3 []\n", m.Text)
	require.Equal(t, "<b>25.50</b>", m.HTML)
	for _, v := range []any{json.Number("-0.125"), "1e2", 2.675} {
		out, err := fixed(2, v)
		require.NoError(t, err)
		require.Contains(t, []string{"-0.13", "100.00", "2.68"}, out, "%v", v)
	}
	_, err = fixed(2, "twelve")
	require.ErrorContains(t, err, "not a number")
	_, err = fixed(2, []int{1})
	require.ErrorContains(t, err, "not a number")
}

// SMTP settings are checked before the first message.
func TestSMTPConfig(t *testing.T) {
	t.Parallel()
	_, err := NewSMTP(SMTPConfig{From: "a@b.c"})
	require.Error(t, err)
	_, err = NewSMTP(SMTPConfig{Host: "127.0.0.1", From: "a@b.c", TLS: "sometimes"})
	require.ErrorContains(t, err, "sometimes")
	s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", From: "a@b.c"})
	require.NoError(t, err)
	require.Equal(t, TLSMandatory, s.cfg.TLS)
}
