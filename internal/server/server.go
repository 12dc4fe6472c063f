// Package server assembles Kiln's HTTP server: the middleware chain, the router with the
// REST routes, health endpoints, the OpenAPI document and docs page, and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/kiln-dev/kiln/internal/files"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/kiln-dev/kiln/internal/api/rest"
	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/idempotency"
	"github.com/kiln-dev/kiln/internal/live"
	"github.com/kiln-dev/kiln/internal/openapi"
	"github.com/kiln-dev/kiln/internal/ratelimit"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Config wires a Server.
type Config struct {
	Spec            *spec.Spec
	Service         *service.Service
	Store           *store.Store
	Logger          *slog.Logger
	ShutdownTimeout time.Duration
	Accounts        *auth.Accounts // nil without auth
	Limiter         ratelimit.Limiter
	OIDC            *auth.OIDC
	Idempotency     *idempotency.Store
	Routes          []rest.Route // a Go program's own routes
	Jobs            rest.Jobs    // the admin jobs API; nil: none
	// Webhooks, WebhookLog and Incoming serve the webhook APIs; nil: none.
	Webhooks   rest.WebhookAdmin
	WebhookLog rest.WebhookLog
	Incoming   rest.Incoming
	// Payments serves the pay and refund routes; nil: none.
	Payments rest.Payments
	// Live serves live updates; nil: none. Shutdown ends its streams, which would otherwise
	// keep the server from draining.
	Live *live.Broker
	// Files receives and serves file fields' files; nil when the spec has none.
	Files *files.Files
	// RouteDocs are the custom Routes as the OpenAPI document lists them.
	RouteDocs []openapi.Route
}

// Server is Kiln's HTTP server.
type Server struct {
	cfg     Config
	handler http.Handler
	tls     *tls.Config // nil: plain HTTP
	served  []string    // the patterns of the routes that answer requests (Served)
}

// Served lists the ServeMux patterns of every route the server answers (the API's, the Go
// program's and its own), without the 405 and 404 answers around them: what the OpenAPI
// document is held to.
func (s *Server) Served() []string { return slices.Clone(s.served) }

// New builds the router and middleware chain.
func New(cfg Config) (*Server, error) {
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	mux := http.NewServeMux()
	rcfg := rest.Config{Spec: cfg.Spec, Service: cfg.Service, Logger: cfg.Logger, Accounts: cfg.Accounts,
		Limiter: cfg.Limiter, OIDC: cfg.OIDC, Idempotency: cfg.Idempotency, Routes: cfg.Routes, Jobs: cfg.Jobs,
		Webhooks: cfg.Webhooks, WebhookLog: cfg.WebhookLog, Incoming: cfg.Incoming, Files: cfg.Files, Payments: cfg.Payments}
	if cfg.Live != nil {
		rcfg.Live = cfg.Live
	}
	api := rest.New(rcfg)
	api.Register(mux)
	own := handleOwn(mux, cfg)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rest.WriteError(w, r, cfg.Logger, service.Errorf(service.CodeNotFound, "no such route"))
	})
	h := chain(mux, cfg.Logger, cfg.Spec.Server)
	tlsConfig, err := loadTLS(cfg.Spec.Server.TLS)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, handler: h, tls: tlsConfig, served: append(api.Served(), own...)}, nil
}

// handleOwn registers the server's own routes beside the API's: the OpenAPI document, the docs
// page, the health probes. It returns their patterns (Served).
func handleOwn(mux *http.ServeMux, cfg Config) []string {
	base := cfg.Spec.Server.BasePath
	own := []string{"GET " + base + "/openapi.json", "GET /docs", "GET /docs/", "GET /healthz", "GET /readyz"}
	mux.Handle("GET "+base+"/openapi.json", &document{spec: cfg.Spec, routes: cfg.RouteDocs, log: cfg.Logger})
	mux.Handle("GET /docs", openapi.DocsPage(base+"/openapi.json"))
	mux.Handle("GET /docs/", openapi.DocsAssets("/docs/"))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeHealth(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Store.Ping(ctx); err != nil {
			cfg.Logger.WarnContext(r.Context(), "readiness check failed", "request_id", rest.RequestID(r.Context()))
			writeHealth(w, http.StatusServiceUnavailable, "database unavailable")
			return
		}
		writeHealth(w, http.StatusOK, "ok")
	})
	return own
}

// loadTLS reads the certificate Kiln serves HTTPS with (nil when it serves plain HTTP). It
// speaks HTTP/1.1 only: the framing watcher reads the decrypted request bytes.
func loadTLS(t spec.TLS) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load the TLS certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}

func writeHealth(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "{\"status\":%q}\n", msg)
}

// Handler returns the full handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until ctx is cancelled, then drains in-flight requests.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	ln = framingListener{Listener: ln}
	srv := &http.Server{
		Handler:           s.handler,
		ConnContext:       connContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	if s.cfg.Live != nil {
		srv.RegisterOnShutdown(func() { _ = s.cfg.Live.Close() })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.cfg.Logger.Info("shutting down", "timeout_ms", s.cfg.ShutdownTimeout.Milliseconds())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
