// Command testreport reads `go test -json` output and says what happened without hiding
// anything: a line per package, every failing test with its own output, every skipped test
// with its reason, and a count. It exits 1 when a test or a package failed (a build error, a
// panic outside a test) or, with -require-services, when any test was skipped: in CI a skip
// means something that should have run did not.
//
//	go test -json ./... > log.json; go run ./scripts/testreport -require-services log.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	requireServices := flag.Bool("require-services", false, "a skipped test fails the run (KILN_REQUIRE_SERVICES=1)")
	flag.Parse()
	in := io.Reader(os.Stdin)
	if flag.NArg() > 0 {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	r, err := Read(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read go test -json output:", err)
		os.Exit(2)
	}
	if !r.Write(os.Stdout, *requireServices) {
		os.Exit(1)
	}
}
