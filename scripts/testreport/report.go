package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json`.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string // build-output and build-fail events
}

type result struct {
	action string // pass, fail, skip
	output strings.Builder
}

type pkg struct {
	name    string
	action  string // pass, fail, skip (no test files)
	elapsed float64
	output  strings.Builder // lines not inside a test: build errors, panics, TestMain
	tests   map[string]*result
	order   []string
}

// Report is what a test run did, package by package.
type Report struct {
	pkgs  map[string]*pkg
	order []string
	build map[string]*strings.Builder // build output by import path
}

// Read collects the events of a `go test -json` run; lines that are not JSON (the go
// command's own messages) are kept as output of no package.
func Read(r io.Reader) (*Report, error) {
	rep := &Report{pkgs: map[string]*pkg{}, build: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || (e.Action == "" && e.Package == "") {
			rep.pkg("").output.WriteString(sc.Text() + "\n")
			continue
		}
		rep.add(e)
	}
	return rep, sc.Err()
}

func (r *Report) pkg(name string) *pkg {
	p, ok := r.pkgs[name]
	if !ok {
		p = &pkg{name: name, tests: map[string]*result{}}
		r.pkgs[name] = p
		r.order = append(r.order, name)
	}
	return p
}

func (r *Report) add(e event) {
	if e.Action == "build-output" || e.Action == "build-fail" {
		b, ok := r.build[e.ImportPath]
		if !ok {
			b = &strings.Builder{}
			r.build[e.ImportPath] = b
		}
		b.WriteString(e.Output)
		return
	}
	p := r.pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.output.WriteString(e.Output)
		case "pass", "fail", "skip":
			p.action, p.elapsed = e.Action, e.Elapsed
		}
		return
	}
	t, ok := p.tests[e.Test]
	if !ok {
		t = &result{}
		p.tests[e.Test] = t
		p.order = append(p.order, e.Test)
	}
	switch e.Action {
	case "output":
		t.output.WriteString(e.Output)
	case "pass", "fail", "skip":
		t.action = e.Action
	}
}

// Write prints the report and reports whether the run passed.
func (r *Report) Write(w io.Writer, requireServices bool) bool {
	var passed, failed, skipped int
	var failures, skips []string
	ok := true
	for _, name := range r.order {
		p := r.pkgs[name]
		for _, tn := range p.order {
			t := p.tests[tn]
			switch t.action {
			case "pass":
				passed++
			case "fail":
				failed++
				failures = append(failures, fmt.Sprintf("--- FAIL: %s (%s)\n%s", tn, name, indent(t.output.String())))
			case "skip":
				skipped++
				skips = append(skips, fmt.Sprintf("--- SKIP: %s (%s): %s", tn, name, skipReason(t.output.String())))
			default: // started, never ended: the binary died (panic, timeout) while it ran
				failed++
				failures = append(failures, fmt.Sprintf("--- DID NOT FINISH: %s (%s)\n%s", tn, name, indent(t.output.String())))
			}
		}
		if why := deathLines(p); why != "" {
			failures = append(failures, fmt.Sprintf("--- PACKAGE %s died:\n%s", name, indent(why)))
		}
		switch {
		case name == "" && strings.TrimSpace(p.output.String()) != "":
			fmt.Fprint(w, p.output.String())
		case name == "":
		case p.action == "fail" || p.action == "":
			ok = false
			fmt.Fprintf(w, "FAIL\t%s\n", name)
			if out := strings.TrimSpace(p.output.String()); out != "" && !onlyResultLines(out) {
				failures = append(failures, fmt.Sprintf("--- PACKAGE %s\n%s", name, indent(p.output.String())))
			}
		case p.action == "pass":
			fmt.Fprintf(w, "ok\t%s\t%.1fs\n", name, p.elapsed)
		}
	}
	paths := make([]string, 0, len(r.build))
	for path := range r.build {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if out := strings.TrimSpace(r.build[path].String()); out != "" {
			ok = false
			failures = append(failures, fmt.Sprintf("--- BUILD %s\n%s", path, indent(out+"\n")))
		}
	}
	if len(failures) > 0 {
		ok = false
		fmt.Fprintf(w, "\n%d failure(s):\n\n%s\n", len(failures), strings.Join(failures, "\n"))
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "\n%d skipped:\n%s\n", len(skips), strings.Join(skips, "\n"))
		if requireServices {
			ok = false
			fmt.Fprintln(w, "skipped tests fail the run with KILN_REQUIRE_SERVICES=1: whatever they needed must be there")
		}
	}
	fmt.Fprintf(w, "\ngo test: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return ok
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "=== ") {
			continue
		}
		b.WriteString("    " + line)
	}
	return b.String()
}

// skipReason is the message a test skipped with.
func skipReason(out string) string {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- SKIP") {
			continue
		}
		if _, msg, ok := strings.Cut(line, ": "); ok && strings.Contains(line, "_test.go:") {
			return msg
		}
		return line
	}
	return "(no reason given)"
}

// onlyResultLines reports whether a package's own output is just go test's closing lines.
func onlyResultLines(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "PASS" && line != "FAIL" && !strings.HasPrefix(line, "ok ") && !strings.HasPrefix(line, "FAIL\t") &&
			!strings.HasPrefix(line, "ok\t") && !strings.HasPrefix(line, "coverage:") {
			return false
		}
	}
	return true
}

// deathLines finds why a package's test binary died while tests ran: go test attributes the
// binary's last words ("panic: test timed out after 10m0s", "signal: killed") to whichever
// test printed last, which may be one that passed and whose output is not shown.
func deathLines(p *pkg) string {
	unfinished := false
	for _, t := range p.tests {
		unfinished = unfinished || (t.action != "pass" && t.action != "fail" && t.action != "skip")
	}
	if !unfinished {
		return ""
	}
	var b strings.Builder
	for _, tn := range p.order {
		for _, line := range strings.Split(p.tests[tn].output.String(), "\n") {
			for _, prefix := range []string{"panic: ", "fatal error: ", "signal: ", "exit status ", "SIGABRT", "*** Test killed"} {
				if strings.HasPrefix(strings.TrimSpace(line), prefix) {
					fmt.Fprintf(&b, "%s (in the output of %s)\n", strings.TrimSpace(line), tn)
					break
				}
			}
		}
	}
	return b.String()
}
