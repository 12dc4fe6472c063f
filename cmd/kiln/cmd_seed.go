package main

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
)

func seedPath(file, spec string) string {
	if file != "" {
		return file
	}
	return filepath.Join(filepath.Dir(spec), "seed.json")
}

func newSeed(o *output) *cobra.Command {
	var s settings
	var file string
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Load seed data through the API pipeline (idempotent: existing ids are kept)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := s.config(discardLogger())
			cfg.NoTokens, cfg.Admin, cfg.NoWorkers = true, true, true // seeding signs no tokens, stores no subscriptions, works no jobs
			app, err := kiln.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer app.Close()
			return runSeed(cmd, o, app, seedPath(file, s.spec))
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&file, "file", "", "seed file (default: seed.json beside the spec)")
	return cmd
}

func runSeed(cmd *cobra.Command, o *output, app *kiln.App, path string) error {
	blocks, err := kiln.LoadSeed(path)
	if err != nil {
		return err
	}
	last := ""
	res, err := app.Seed(cmd.Context(), blocks, func(resource string, done, total int) {
		if done == total || done%500 == 0 {
			o.step("seeding %s: %d/%d", resource, done, total)
		}
		last = resource
	})
	_ = last
	if err != nil {
		return err
	}
	o.ok("seed: %d records created, %d already there", res.Created, res.Skipped)
	return nil
}
