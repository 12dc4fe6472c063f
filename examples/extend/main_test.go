package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
)

type client struct {
	t     *testing.T
	url   string
	token string
}

func (c client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&rd).Encode(body); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.url+path, &rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func start(t *testing.T, x *kiln.Extensions) (*httptest.Server, error) {
	t.Helper()
	dir := t.TempDir()
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: "kiln.yaml", DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, AuthSecret: strings.Repeat("s", 32), LookupEnv: func(string) (string, bool) { return "", false }, Extensions: x})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() { srv.Close(); _ = app.Close() })
	return srv, nil
}

func signup(t *testing.T, url, email string) client {
	t.Helper()
	status, body := client{t: t, url: url}.do("POST", "/api/auth/signup", map[string]any{"email": email, "password": "a long password"})
	if status != http.StatusCreated {
		t.Fatalf("signup: %d %v", status, body)
	}
	return client{t: t, url: url, token: body["access_token"].(string)}
}

func fieldCode(body map[string]any, field string) string {
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		if m := e.(map[string]any); m["field"] == field {
			return m["code"].(string)
		}
	}
	return ""
}

// The hooks, the Go action and the route work through the HTTP API as a client sees it.
func TestClinicExtensions(t *testing.T) {
	clinic := &Clinic{}
	srv, err := start(t, clinic.Extensions())
	if err != nil {
		t.Fatal(err)
	}
	ann, bob := signup(t, srv.URL, "ann@example.com"), signup(t, srv.URL, "bob@example.com")
	saturday, monday, tuesday := "2027-01-02T10:00:00Z", "2027-01-04T09:00:00Z", "2027-01-05T10:00:00Z"

	if status, body := ann.do("POST", "/api/appointments", map[string]any{"starts_at": saturday}); status != 400 || fieldCode(body, "starts_at") != "outside_hours" {
		t.Fatalf("a Saturday appointment: %d %v", status, body)
	}
	status, appt := ann.do("POST", "/api/appointments", map[string]any{"starts_at": monday, "reason": "  check-up  "})
	if status != 201 || appt["reason"] != "check-up" || appt["status"] != "booked" {
		t.Fatalf("a Monday appointment: %d %v", status, appt)
	}
	id := appt["id"].(string)
	if status, body := ann.do("GET", "/api/clinic/summary", nil); status != 200 || body["booked_since_start"] != float64(1) || body["role"] != "patient" {
		t.Fatalf("summary: %d %v", status, body)
	}
	if status, _ := (client{t: t, url: srv.URL}).do("GET", "/api/clinic/summary", nil); status != 404 {
		t.Fatalf("anonymous summary: %d", status)
	}

	path := "/api/appointments/" + id + "/reschedule"
	if status, body := ann.do("POST", path, map[string]any{}); status != 400 || fieldCode(body, "starts_at") != "required" {
		t.Fatalf("reschedule without input: %d %v", status, body)
	}
	if status, body := ann.do("POST", path, map[string]any{"starts_at": "2027-01-04T20:00:00Z"}); status != 400 || fieldCode(body, "starts_at") != "outside_hours" {
		t.Fatalf("reschedule after hours: %d %v", status, body)
	}
	if status, _ := bob.do("POST", path, map[string]any{"starts_at": tuesday}); status != 404 {
		t.Fatalf("someone else's appointment: %d", status)
	}
	status, body := ann.do("POST", path, map[string]any{"starts_at": tuesday})
	got, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(body["starts_at"]))
	if want, _ := time.Parse(time.RFC3339, tuesday); status != 200 || !got.Equal(want) {
		t.Fatalf("reschedule: %d %v", status, body)
	}
}

// A go: true action without a Go function is refused at start, not at the first request.
func TestUnregisteredGoActionIsAStartError(t *testing.T) {
	_, err := start(t, &kiln.Extensions{})
	if err == nil || !strings.Contains(err.Error(), "reschedule") {
		t.Fatalf("want an error naming the action, got %v", err)
	}
}

// The program uses only the public kiln package.
func TestNoInternalImports(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		if strings.Contains(imp.Path.Value, "/internal") {
			t.Errorf("main.go imports %s", imp.Path.Value)
		}
	}
}
