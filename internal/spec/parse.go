package spec

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/kiln-dev/kiln/internal/ratelimit"
)

// ParseOpts configures parsing.
type ParseOpts struct {
	// LookupEnv resolves ${VAR}; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
}

// Load reads, parses and validates the spec file at path.
func Load(path string, opts ParseOpts) (*Spec, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, src, opts)
}

// Parse parses and validates spec source; file names the source in error positions.
// Every problem is reported at once as Errors.
func Parse(file string, src []byte, opts ParseOpts) (*Spec, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	w := &walker{collector: &collector{file: file}, env: opts.LookupEnv}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, Errors{yamlProblem(file, err)}
	}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return nil, Errors{{Pos: Pos{File: file, Line: 1, Column: 1}, Message: "spec must be one YAML document with a resources mapping"}}
	}
	s := w.spec(f.Docs[0].Body)
	// Semantic checks run even after structural problems, so one run reports everything.
	validate(s, w.collector)
	if err := w.err(); err != nil {
		return nil, err
	}
	return s, nil
}

func yamlProblem(file string, err error) Problem {
	var se *yaml.SyntaxError
	if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
		return Problem{Pos: Pos{File: file, Line: se.Token.Position.Line, Column: se.Token.Position.Column}, Message: "YAML syntax: " + se.Message}
	}
	return Problem{Pos: Pos{File: file, Line: 1, Column: 1}, Message: "YAML syntax: " + err.Error()}
}

var topKeys = []string{"name", "database", "server", "auth", "roles", "redis", "jobs", "schedules", "mail", "storage", "webhooks", "webhooks_allow_hosts", "incoming_webhooks", "payments", "resources"}

func (w *walker) spec(root ast.Node) *Spec {
	s := &Spec{File: w.file, Server: Server{BasePath: "/api", MaxBodyBytes: 1 << 20, QueryTimeout: DefaultQueryTimeout,
		HSTSMaxAge: DefaultHSTSMaxAge, RateLimits: DefaultRateLimits, IdempotencyTTL: DefaultIdempotencyTTL, BatchMax: DefaultBatchMax}, Redis: Redis{Prefix: "kiln:"}, Jobs: DefaultJobs()}
	entries, _ := w.mapping(root, "spec", topKeys...)
	sawResources := false
	for _, e := range entries {
		switch e.key {
		case "name":
			s.Name = w.str(e.value, "name")
		case "database":
			w.database(e.value, &s.Database)
		case "server":
			w.server(e.value, &s.Server)
		case "auth":
			s.Auth = w.auth(e)
		case "roles":
			s.Roles = w.roles(e.value)
		case "redis":
			w.redis(e.value, &s.Redis)
		case "jobs":
			w.jobs(e.value, &s.Jobs)
		case "schedules":
			s.Schedules = w.schedules(e.value)
		case "mail":
			w.mail(e.value, &s.Mail)
		case "storage":
			w.storage(e.value, &s.Storage)
		case "webhooks":
			w.webhooks(e.value, &s.Webhooks)
		case "webhooks_allow_hosts":
			w.allowNetworks(e.value, &s.Webhooks)
		case "incoming_webhooks":
			w.incomingWebhooks(e.value, &s.Webhooks)
		case "payments":
			w.payments(e, &s.Payments)
		case "resources":
			sawResources = true
			s.Resources = w.resources(e.value)
		}
	}
	if !sawResources {
		w.add(w.pos(root), "spec has no resources")
	}
	return s
}

func (w *walker) database(n ast.Node, d *Database) {
	entries, _ := w.mapping(n, "database", "url")
	for _, e := range entries {
		d.URL = w.str(e.value, "database.url")
	}
}

func (w *walker) server(n ast.Node, s *Server) {
	entries, _ := w.mapping(n, "server", "base_path", "max_body_bytes", "cors", "rate_limits", "trusted_proxies",
		"query_timeout", "tls", "behind_tls", "hsts_max_age", "idempotency_ttl", "batch_max")
	for _, e := range entries {
		switch e.key {
		case "query_timeout":
			s.QueryTimeout = w.duration(e.value, "server.query_timeout")
		case "hsts_max_age":
			s.HSTSMaxAge = w.duration(e.value, "server.hsts_max_age")
		case "idempotency_ttl":
			s.IdempotencyTTL = w.duration(e.value, "server.idempotency_ttl")
		case "batch_max":
			if v, ok := w.integer(e.value, "server.batch_max"); ok {
				s.BatchMax = int(v)
			}
		case "behind_tls":
			s.BehindTLS = w.boolean(e.value, "server.behind_tls")
		case "tls":
			w.tls(e.value, &s.TLS)
		case "base_path":
			s.BasePath = w.str(e.value, "server.base_path")
			if !strings.HasPrefix(s.BasePath, "/") || strings.HasSuffix(s.BasePath, "/") {
				// "/" too: the API cannot have the root, which the docs page, the health checks
				// and the answer to unknown paths share with it (kiln serve failed to start).
				w.add(w.pos(e.value), "server.base_path must be a prefix such as /api or /v1 (starting with /, not ending with /): %q", s.BasePath)
			}
		case "max_body_bytes":
			if v, ok := w.integer(e.value, "server.max_body_bytes"); ok {
				s.MaxBodyBytes = v
				if v <= 0 {
					w.add(w.pos(e.value), "server.max_body_bytes must be positive")
				}
			}
		case "cors":
			w.cors(e.value, &s.CORS)
		case "rate_limits":
			w.rateLimits(e.value, &s.RateLimits)
		case "trusted_proxies":
			for _, item := range w.list(e.value, "server.trusted_proxies") {
				text := w.str(item, "trusted proxy")
				p, err := netip.ParsePrefix(text)
				if err != nil {
					w.add(w.pos(item), "server.trusted_proxies: %q is not a CIDR such as 10.0.0.0/8", text)
					continue
				}
				s.TrustedProxies = append(s.TrustedProxies, p)
			}
		}
	}
}

func (w *walker) tls(n ast.Node, t *TLS) {
	entries, _ := w.mapping(n, "server.tls", "cert_file", "key_file")
	for _, e := range entries {
		switch e.key {
		case "cert_file":
			t.CertFile = w.str(e.value, "server.tls.cert_file")
		case "key_file":
			t.KeyFile = w.str(e.value, "server.tls.key_file")
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		w.add(w.pos(n), "server.tls needs both cert_file and key_file")
	}
}

func (w *walker) cors(n ast.Node, c *CORS) {
	entries, _ := w.mapping(n, "server.cors", "origins", "methods", "headers", "credentials", "max_age")
	for _, e := range entries {
		switch e.key {
		case "origins":
			c.Origins = w.strings(e.value, "cors.origins")
		case "methods":
			c.Methods = w.strings(e.value, "cors.methods")
		case "headers":
			c.Headers = w.strings(e.value, "cors.headers")
		case "credentials":
			c.Credentials = w.boolean(e.value, "cors.credentials")
		case "max_age":
			v, _ := w.integer(e.value, "cors.max_age")
			c.MaxAge = int(v)
		}
	}
}

// raw converts a reserved block to plain Go values, interpolating scalars.
func (w *walker) raw(n ast.Node) any {
	n = unwrap(n)
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		entries, _ := w.mapping(v, "block")
		m := make(map[string]any, len(entries))
		for _, e := range entries {
			m[e.key] = w.raw(e.value)
		}
		return m
	case *ast.SequenceNode:
		out := make([]any, 0, len(v.Values))
		for _, item := range v.Values {
			out = append(out, w.raw(item))
		}
		return out
	}
	s, null, _ := w.scalar(n, "value")
	if null {
		return nil
	}
	return s
}

func (w *walker) redis(n ast.Node, r *Redis) {
	entries, _ := w.mapping(n, "redis", "url", "prefix", "timeout", "trip_after", "probe_interval")
	for _, e := range entries {
		switch e.key {
		case "url":
			r.URL = w.str(e.value, "redis.url")
		case "prefix":
			r.Prefix = w.str(e.value, "redis.prefix")
		case "timeout":
			r.Timeout = w.duration(e.value, "redis.timeout")
		case "trip_after":
			if n, ok := w.integer(e.value, "redis.trip_after"); ok && n >= 1 && n <= 1000 {
				r.TripAfter = int(n)
			} else if ok {
				w.add(w.pos(e.value), "redis.trip_after must be between 1 and 1000")
			}
		case "probe_interval":
			r.ProbeInterval = w.duration(e.value, "redis.probe_interval")
		}
	}
	if r.Prefix == "" {
		r.Prefix = "kiln:"
	}
}

func (w *walker) rateLimits(n ast.Node, rl *RateLimits) {
	entries, _ := w.mapping(n, "server.rate_limits", "anonymous", "account", "api_key", "auth", "password_reset",
		"password_reset_email")
	for _, e := range entries {
		text := w.str(e.value, "rate_limits."+e.key)
		var l ratelimit.Limit
		if text != "" && text != "off" {
			var err error
			if l, err = ratelimit.ParseLimit(text); err != nil {
				w.add(w.pos(e.value), "server.rate_limits.%s: %v", e.key, err)
				continue
			}
		}
		switch e.key {
		case "anonymous":
			rl.Anonymous = l
		case "account":
			rl.Account = l
		case "api_key":
			rl.APIKey = l
		case "auth":
			rl.Auth = l
		case "password_reset":
			rl.PasswordReset = l
		case "password_reset_email":
			rl.PasswordResetEmail = l
		}
	}
}
