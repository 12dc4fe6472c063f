package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/testdb"
)

type testBundle struct {
	app     *kiln.App
	srv     *httptest.Server
	t       *testing.T
	admin   string // an admin's access token, sent by default
	dataDir string
}

// testSecret signs the test servers' tokens.
const testSecret = "test-secret-0123456789abcdef-0123456789"

func noEnv(string) (string, bool) { return "", false }

// setup starts the shop example (or specSrc) on a fresh database of the dialect.
func setup(t *testing.T, dialect, specSrc string) *testBundle {
	return setupFull(t, dialect, specSrc, nil)
}

// setupWithLogger starts the shop on SQLite with a logger to inspect.
func setupWithLogger(t *testing.T, log *slog.Logger) *testBundle {
	return setupFull(t, "sqlite", "", log)
}

// copyShopMails puts the shop's mail templates beside a copy of its spec in dir.
func copyShopMails(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "mails"), os.DirFS(filepath.Join("examples", "shop", "mails"))))
}

func setupFull(t *testing.T, dialect, specSrc string, log *slog.Logger) *testBundle {
	t.Helper()
	return setupEnv(t, dialect, specSrc, log, nil)
}

// setupEnv is setupFull with env as the only environment the spec and the app see.
func setupEnv(t *testing.T, dialect, specSrc string, log *slog.Logger, env map[string]string) *testBundle {
	t.Helper()
	return setupConfig(t, dialect, specSrc, log, env, nil)
}

// setupExt starts the shop on dialect with a Go program's extensions.
func setupExt(t *testing.T, dialect string, x *kiln.Extensions) *testBundle {
	t.Helper()
	return setupConfig(t, dialect, "", nil, nil, func(cfg *kiln.Config) { cfg.Extensions = x })
}

// setupConfig is setupEnv whose configuration edit may change last.
func setupConfig(t *testing.T, dialect, specSrc string, log *slog.Logger, env map[string]string, edit func(*kiln.Config)) *testBundle {
	t.Helper()
	dir := t.TempDir()
	specPath := filepath.Join("examples", "shop", "kiln.yaml")
	if specSrc != "" {
		specPath = filepath.Join(dir, "kiln.yaml")
		require.NoError(t, os.WriteFile(specPath, []byte(specSrc), 0o644))
		copyShopMails(t, dir)
	}
	cfg := kiln.Config{SpecPath: specPath, DataDir: dir, MigrationsDir: filepath.Join(dir, "migrations"),
		Dev: true, LookupEnv: noEnv, AuthSecret: testSecret, Logger: log}
	if env != nil {
		cfg.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	}
	if dialect == "postgres" {
		cfg.DatabaseURL = testdb.PostgresURL(t)
	}
	if edit != nil {
		edit(&cfg)
	}
	app, err := kiln.New(context.Background(), cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, app.Close())
	})
	b := &testBundle{app: app, srv: srv, t: t, dataDir: dir}
	if app.Accounts != nil {
		b.admin = b.token(app.Spec.Auth.AdminRoles[0])
	}
	return b
}

// account creates an account with a role (as the system) and returns its id.
func (b *testBundle) account(role string) string {
	b.t.Helper()
	in := map[string]any{"email": role + "-" + uuid.NewString()[:8] + "@example.com", "role": role}
	account := b.app.Spec.Resource(b.app.Spec.Auth.Account)
	if f := account.Field("name"); f != nil && f.Required {
		in["name"] = "Test " + role
	}
	rec, err := b.app.Service.Create(service.AsSystem(context.Background()), account.Name, in, service.WriteOpts{})
	require.NoError(b.t, err)
	return rec.ID
}

// tokenFor logs an account in without a password and returns its access token.
func (b *testBundle) tokenFor(id string) string {
	b.t.Helper()
	pair, err := b.app.Accounts.StartSession(context.Background(), id)
	require.NoError(b.t, err)
	return pair.AccessToken
}

// token makes a new account with role and returns its access token.
func (b *testBundle) token(role string) string { return b.tokenFor(b.account(role)) }

// eachDialect runs fn as a subtest on SQLite and on PostgreSQL.
func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range testdb.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (b *testBundle) do(method, path string, body any, headers ...string) response {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(b.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(b.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.admin != "" {
		req.Header.Set("Authorization", "Bearer "+b.admin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
		if headers[i+1] == "" {
			req.Header.Del(headers[i]) // "" sends the request without that header (anonymous)
		}
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		require.NoError(b.t, dec.Decode(&out.body), string(raw))
	}
	return out
}

// create posts a record and returns its id, failing the test on anything but 201.
func (b *testBundle) create(resource string, body map[string]any) string {
	b.t.Helper()
	res := b.do("POST", "/api/"+resource, body)
	require.Equal(b.t, http.StatusCreated, res.status, string(res.raw))
	return res.body["id"].(string)
}

func fieldCodes(body map[string]any) map[string]string {
	out := map[string]string{}
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		m := e.(map[string]any)
		out[m["field"].(string)] = m["code"].(string)
	}
	return out
}

// rawCount counts the rows of a table as stored, deleted and internal rows included.
func (b *testBundle) rawCount(table string) int64 {
	b.t.Helper()
	rows, err := b.app.Store.Reader().QueryRaw(context.Background(), "SELECT COUNT(*) FROM "+table)
	require.NoError(b.t, err)
	defer rows.Close()
	var n int64
	require.True(b.t, rows.Next())
	require.NoError(b.t, rows.Scan(&n))
	return n
}

func (b *testBundle) count(resource string) int64 {
	b.t.Helper()
	n, err := b.app.Store.Reader().Count(context.Background(), resource, nil)
	require.NoError(b.t, err)
	return n
}

// adminUsers is the top of a spec whose accounts (users) only admin manages, signing up off:
// append the resources under test.
const adminUsers = `roles: [admin, member]
auth: {account: users, signup: "off"}
resources:
  users:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
`

// loadSpecIn writes src as kiln.yaml in dir and loads it (with no environment): the file's path
// and the load's error, for tests of spec errors and their file:line:col.
func loadSpecIn(t *testing.T, dir, src string) (string, error) {
	t.Helper()
	path := filepath.Join(dir, "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err := kiln.LoadSpec(path, noEnv)
	return path, err
}
