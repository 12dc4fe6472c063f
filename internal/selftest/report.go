package selftest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// Summary counts results.
func Summary(results []Result) (passed, failed int) {
	for _, r := range results {
		if r.Passed {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// WriteFailures prints each failed case with what was expected and what came back.
func WriteFailures(w io.Writer, results []Result) {
	for _, r := range results {
		if r.Passed {
			continue
		}
		fmt.Fprintf(w, "\n✗ %s › %s (%s)\n", r.File, r.Case, r.Endpoint)
		if r.Request != "" {
			fmt.Fprintf(w, "    sent: %s\n", truncate(r.Request, 300))
		}
		for _, f := range r.Failures {
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
}

// WriteTimes prints p50, p95 and max response time per endpoint.
func WriteTimes(w io.Writer, results []Result) {
	by := map[string][]time.Duration{}
	for _, r := range results {
		if r.Duration > 0 {
			by[r.Endpoint] = append(by[r.Endpoint], r.Duration)
		}
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-40s %8s %8s %8s %5s\n", "endpoint", "p50", "p95", "max", "n")
	for _, n := range names {
		d := by[n]
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		fmt.Fprintf(w, "%-40s %8s %8s %8s %5d\n", n, ms(pct(d, 50)), ms(pct(d, 95)), ms(d[len(d)-1]), len(d))
	}
}

func pct(d []time.Duration, p int) time.Duration { return d[min(len(d)-1, (len(d)*p+99)/100-1)] }

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
	total    time.Duration
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes results as JUnit XML, a suite per file.
func WriteJUnit(path string, results []Result) error {
	var doc junitSuites
	index := map[string]int{}
	for _, r := range results {
		i, ok := index[r.File]
		if !ok {
			i = len(doc.Suites)
			index[r.File] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: r.File})
		}
		s := &doc.Suites[i]
		tc := junitCase{Name: r.Case, Classname: r.Endpoint, Time: secs(r.Duration)}
		if !r.Passed {
			s.Failures++
			text := ""
			for _, f := range r.Failures {
				text += f + "\n"
			}
			tc.Failure = &junitFailure{Message: r.Failures[0], Text: text}
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
		s.total += r.Duration
		s.Time = secs(s.total)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), out...), 0o644)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJSON writes results and the summary as JSON.
func WriteJSON(path string, results []Result) error {
	passed, failed := Summary(results)
	out, err := json.MarshalIndent(map[string]any{"passed": passed, "failed": failed, "results": results}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
