package kilntest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kiln-dev/kiln/internal/derive"
	"github.com/kiln-dev/kiln/internal/selftest"
)

// Run runs YAML test files, or every *.yaml under folders, against the backend: a subtest
// per file and per case, each failure reported with what was sent and what came back.
func (b *Backend) Run(t *testing.T, paths ...string) {
	t.Helper()
	files, err := selftest.FindFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		f, err := selftest.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b.runFile(t, f)
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
	suite, err := derive.Generate(b.App.Spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, gap := range suite.Gaps {
		t.Errorf("not derived: %s", gap)
	}
	for _, u := range suite.Uncovered {
		t.Logf("not violated by the suite: %s", u)
	}
	for _, u := range suite.Unsent {
		t.Logf("not sent by the suite: %s", u)
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
