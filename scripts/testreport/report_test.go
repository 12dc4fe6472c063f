package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A binary that died while tests ran is explained even when go test put its last words in the
// output of a test that had passed (whose output the report does not show).
func TestReportSaysWhyABinaryDied(t *testing.T) {
	t.Parallel()
	events := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestDone"}
{"Action":"run","Package":"p","Test":"TestLong"}
{"Action":"output","Package":"p","Test":"TestLong","Output":"=== RUN   TestLong\n"}
{"Action":"output","Package":"p","Test":"TestDone","Output":"--- PASS: TestDone (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestDone"}
{"Action":"output","Package":"p","Test":"TestDone","Output":"panic: test timed out after 10m0s\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t600.1s\n"}
{"Action":"fail","Package":"p","Elapsed":600.1}
`
	rep, err := Read(strings.NewReader(events))
	require.NoError(t, err)
	var out strings.Builder
	require.False(t, rep.Write(&out, false))
	require.Contains(t, out.String(), "--- DID NOT FINISH: TestLong (p)")
	require.Contains(t, out.String(), "--- PACKAGE p died:\n    panic: test timed out after 10m0s (in the output of TestDone)")
}
