package kilntest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/selftest"
)

// Run runs YAML test files, or every *.yaml under folders, against the backend: a subtest
// per file and per case, each failure reported with what was sent and what came back.
func (b *Backend) Run(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return err
			}
			f, err := selftest.LoadFile(path)
			if err != nil {
				return err
			}
			b.runFile(t, f)
			return nil
		})
		if err != nil {
			t.Fatalf("test files: %v", err)
		}
	}
}

// RunYAML runs one test file given as text; name labels it in reports.
func (b *Backend) RunYAML(t *testing.T, name, text string) {
	t.Helper()
	f, err := selftest.ParseFile(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	b.runFile(t, f)
}

// RunDerived runs the conformance suite derived from the backend's spec, as
// `kiln test --derived` does. What cannot be derived fails the test.
func (b *Backend) RunDerived(t *testing.T) {
	t.Helper()
	var rules *expr.Rules
	if b.App.Spec.Auth != nil {
		var err error
		if rules, err = expr.CompileRules(b.App.Spec); err != nil {
			t.Fatal(err)
		}
	}
	suite, err := derive.Generate(b.App.Spec, rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, gap := range suite.Gaps {
		t.Errorf("not derived: %s", gap)
	}
	for _, file := range suite.Files {
		f, err := selftest.ParseFile(file.Name, file.Data)
		if err != nil {
			t.Fatal(err)
		}
		b.runFile(t, f)
	}
}

func (b *Backend) runFile(t *testing.T, f *selftest.File) {
	t.Run(filepath.Base(f.Path), func(t *testing.T) {
		runner := &selftest.Runner{Env: b.env}
		for _, res := range runner.RunFile(context.Background(), f) {
			t.Run(res.Case, func(t *testing.T) {
				for _, msg := range res.Failures {
					t.Errorf("%s\n  sent: %s", msg, res.Request)
				}
			})
		}
	})
}
