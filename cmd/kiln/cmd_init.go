package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

const initSpec = `# A Kiln spec. Every key is documented in docs/spec.md of the Kiln repository.
name: %q
database:
  # Empty: embedded SQLite in --data-dir. Set KILN_DATABASE_URL=postgres://... for PostgreSQL.
  url: ${KILN_DATABASE_URL:-}
server:
  base_path: /api

resources:
  notes:
    fields:
      title: {type: string, required: true, min_length: 1, max_length: 200}
      body: text
      done: {type: boolean, default: false}
    indexes:
      - fields: [done]
`

const initReadme = `# %s

A backend built with [Kiln](https://github.com/kiln-dev/kiln). It needs the ` + "`kiln`" + ` binary: with
Go 1.26 or newer, run ` + "`go install ./cmd/kiln`" + ` in a clone of the Kiln repository.

    kiln serve --dev            # plans and applies migrations, serves on 127.0.0.1:8080
    curl -s localhost:8080/api/notes
    curl -s -XPOST localhost:8080/api/notes -H 'Content-Type: application/json' -d '{"title":"First"}'

API docs: http://127.0.0.1:8080/docs. Schema changes: edit kiln.yaml, then
` + "`kiln migrate plan`" + ` and ` + "`kiln migrate up`" + ` (or keep ` + "`--dev`" + ` on while developing).

    kiln test                   # the YAML API tests under tests/, on a fresh database
    kiln test --derived         # the conformance suite Kiln derives from kiln.yaml
`

// initTest is a first API test of the scaffolded spec, so that kiln test has something to
// run (it refused a fresh project with "stat tests: no such file or directory").
const initTest = `# API tests: kiln test runs every *.yaml under tests/ against a fresh database, cases in order
# (the format: docs/testing.md in the Kiln repository). kiln test --derived runs the suite Kiln
# derives from kiln.yaml.
endpoint: POST /api/notes
defaults:
  request:
    headers:
      Content-Type: application/json

test_cases:
  creates_a_note:
    request:
      body: {title: First}
    expected:
      status: 201
      response_schema: true
      response_contains:
        - id
        - title: First
        - done: false
      database_check:
        - Note with title "First" exists
  refuses_an_empty_title:
    request:
      body: {title: ""}
    expected:
      status: 400
      response_contains:
        - errors.0.field: title
      database_check:
        - Note with title "" does not exist
`

// initFiles are the files kiln init writes, in order.
var initFiles = []string{"kiln.yaml", "README.md", ".gitignore", filepath.Join("tests", "notes.yaml")}

func newInit(o *output) *cobra.Command {
	return &cobra.Command{
		Use:   "init [dir]",
		Short: "Scaffold a new project: a working kiln.yaml, a first API test and a README",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			name := filepath.Base(abs)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", dir, err)
			}
			files := map[string]string{"kiln.yaml": fmt.Sprintf(initSpec, name), "README.md": fmt.Sprintf(initReadme, name),
				".gitignore": "kiln_data/\n", initFiles[3]: initTest}
			for _, f := range initFiles {
				path := filepath.Join(dir, f)
				if _, err := os.Stat(path); err == nil {
					return errors.New(path + " already exists; kiln init does not overwrite files")
				}
			}
			if err := os.MkdirAll(filepath.Join(dir, "tests"), 0o755); err != nil {
				return fmt.Errorf("create %s: %w", filepath.Join(dir, "tests"), err)
			}
			for _, f := range initFiles {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(files[f]), 0o644); err != nil {
					return err
				}
				o.ok("created %s", filepath.Join(dir, f))
			}
			o.info("\nNext: cd %s && kiln serve --dev", shellQuote(dir))
			return nil
		},
	}
}

// shellQuote quotes s for a POSIX shell so that a printed command can be pasted as is.
func shellQuote(s string) string {
	safe := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./+,:@%=", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
