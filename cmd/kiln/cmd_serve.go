package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
)

func newServe(o *output) *cobra.Command {
	var s settings
	var addr, seedFile string
	var dev, seed bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the spec's API (REST, OpenAPI at /api/openapi.json, docs at /docs)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			cfg := s.config(log)
			cfg.Dev = dev
			cfg.Progress = func(msg string) { o.ok("%s", msg) }
			app, err := kiln.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer app.Close()
			if seed {
				if err := runSeed(cmd, o, app, seedPath(seedFile, s.spec)); err != nil {
					return err
				}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			// The bound address, not the flag: with port 0 the system picks a free port.
			o.ok("serving %s on http://%s (docs at /docs)", filepath.Base(s.spec), ln.Addr())
			return app.Serve(cmd.Context(), ln)
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&addr, "addr", envOr("KILN_ADDR", "127.0.0.1:8080"), "listen address (env KILN_ADDR)")
	cmd.Flags().BoolVar(&dev, "dev", envBool("KILN_DEV"), "dev mode: plan and apply migrations at start (env KILN_DEV)")
	cmd.Flags().BoolVar(&seed, "seed", false, "load the seed file before serving (records already there are kept)")
	cmd.Flags().StringVar(&seedFile, "seed-file", "", "seed file (default: seed.json beside the spec)")
	return cmd
}
