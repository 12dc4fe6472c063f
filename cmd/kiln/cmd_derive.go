package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/selftest"
)

// deriveSuite derives the conformance suite from the spec at path.
func deriveSuite(path string, lookup func(string) (string, bool)) (*derive.Suite, error) {
	s, err := kiln.LoadSpec(path, lookup)
	if err != nil {
		return nil, err
	}
	return derive.Generate(s)
}

// writeDerived writes the derived files into dir. A file that exists with other content (one
// a user edited, or one from an older spec) is kept unless force is set.
func writeDerived(o *output, suite *derive.Suite, dir string, force bool) error {
	// Everything written must read back as a test file: a broken one is Kiln's bug, and is
	// reported before anything is written rather than found by the next run.
	if _, err := parseDerived(suite, dir); err != nil {
		return fmt.Errorf("nothing written: a generated file does not read back (please report this): %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("derived tests: %w", err)
	}
	var wrote, same int
	var kept []string
	for _, f := range suite.Files {
		path := filepath.Join(dir, f.Name)
		if old, err := os.ReadFile(path); err == nil {
			if bytes.Equal(old, f.Data) {
				same++
				continue
			}
			if !force {
				kept = append(kept, f.Name)
				continue
			}
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return fmt.Errorf("derived tests: %w", err)
		}
		wrote++
	}
	o.ok("wrote %d test files to %s (%d unchanged)", wrote, dir, same)
	if len(kept) > 0 {
		o.warn("kept %d files that differ from what the spec derives (edited, or from an older spec); --force replaces them: %s",
			len(kept), strings.Join(kept, ", "))
	}
	reportGaps(o, suite)
	return nil
}

func reportGaps(o *output, suite *derive.Suite) {
	for _, g := range suite.Gaps {
		o.warn("not derived: %s", g)
	}
	for _, u := range suite.Uncovered {
		o.warn("not violated: %s", u)
	}
	for _, u := range suite.Unsent {
		o.warn("not sent by the derived suite: %s", u)
	}
}

// parseDerived reads the derived files as test files, named as --generate would write them.
func parseDerived(suite *derive.Suite, dir string) ([]*selftest.File, error) {
	out := make([]*selftest.File, 0, len(suite.Files))
	for _, f := range suite.Files {
		tf, err := selftest.ParseFile(filepath.Join(dir, f.Name), f.Data)
		if err != nil {
			return nil, fmt.Errorf("derived %w", err)
		}
		out = append(out, tf)
	}
	return out, nil
}
