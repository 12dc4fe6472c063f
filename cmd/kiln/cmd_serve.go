package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
)

func newServe(o *output) *cobra.Command {
	var s settings
	var addr, seedFile, logFlush string
	var dev, seed, workers bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the spec's API (REST, OpenAPI at /api/openapi.json, docs at /docs)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, logw, err := serverLog(logFlush)
			if err != nil {
				return err
			}
			defer logw.Close()
			cfg := s.config(log)
			// The start-up memory is given back beside the first requests, not before them: a
			// forced collection and dropping the binary's mappings cost 10–40 ms of a cold start
			// that answering does not need to wait for.
			cfg.Dev, cfg.NoWorkers, cfg.Serving = dev, !workers, func() { go releaseStartup() }
			cfg.Progress = func(msg string) { o.ok("%s", msg) }
			cfg.Waiting = func(msg string) {
				o.warn("%s", msg)
				log.Warn("waiting for the migration lock", "detail", msg)
			}
			app, err := kiln.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer app.Close()
			warnIfOpen(o, log, app, s.spec)
			if seed {
				if err := runSeed(cmd, o, app, seedPath(seedFile, s.spec)); err != nil {
					return err
				}
			}
			// Listen first: ✓ only once the address is really ours.
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("cannot listen on %s: %w (is another server using it? choose another with --addr)", addr, err)
			}
			scheme := "http"
			if app.Spec.Server.TLS.Enabled() {
				scheme = "https"
			}
			log.Info("listening", "addr", ln.Addr().String())
			_ = logw.Flush() // whoever waits for the server reads this line now
			o.ok("serving %s on %s://%s (docs at /docs)", s.spec, scheme, ln.Addr())
			return app.Serve(cmd.Context(), ln)
		},
	}
	s.bind(cmd)
	logFlushFlag(cmd, &logFlush)
	cmd.Flags().StringVar(&addr, "addr", envOr("KILN_ADDR", "127.0.0.1:8080"), "listen address (env KILN_ADDR)")
	cmd.Flags().BoolVar(&dev, "dev", envBool("KILN_DEV"), "dev mode: plan and apply migrations at start (env KILN_DEV)")
	cmd.Flags().BoolVar(&workers, "workers", envBoolDefault("KILN_WORKERS", true), "work background jobs in this process (env KILN_WORKERS; false: run kiln worker elsewhere)")
	cmd.Flags().BoolVar(&seed, "seed", false, "load the seed file before serving (records already there are kept)")
	cmd.Flags().StringVar(&seedFile, "seed-file", "", "seed file (default: seed.json beside the spec)")
	cmd.Flags().StringVar(&s.tlsCert, "tls-cert", os.Getenv("KILN_TLS_CERT"), "serve HTTPS with this PEM certificate (chain) file; overrides server.tls (env KILN_TLS_CERT)")
	cmd.Flags().StringVar(&s.tlsKey, "tls-key", os.Getenv("KILN_TLS_KEY"), "the certificate's PEM private key file (env KILN_TLS_KEY)")
	return cmd
}

// warnIfOpen says so when the spec has no auth block: every action is then open to anyone.
func warnIfOpen(o *output, log *slog.Logger, app *kiln.App, specPath string) {
	if app.Spec.Auth != nil {
		return
	}
	o.warn("%s has no auth block: every action of every resource is open to anyone (add auth: to require sign-in; docs/auth.md)", specPath)
	log.Warn("the spec has no auth block: every action is open", "spec", specPath)
}
