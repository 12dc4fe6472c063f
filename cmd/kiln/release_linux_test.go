//go:build linux

package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadOnlyMappingsKeepsOnlyTheExecutablesReadOnlyPages(t *testing.T) {
	t.Parallel()
	maps := `00400000-019fb000 r-xp 00000000 fe:00 9978465                            /tmp/k/kiln
019fb000-035ba000 r--p 015fb000 fe:00 9978465                            /tmp/k/kiln
035ba000-0371e000 rw-p 031ba000 fe:00 9978465                            /tmp/k/kiln
13b183000000-13b184c00000 rw-p 00000000 00:00 0 
7f5fc0606000-7f5fc075c000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f5fc0800000-7f5fc0801000 r--p 00000000 fe:00 9978466                    /tmp/k/kiln-other
`
	got := readOnlyMappings(bufio.NewScanner(strings.NewReader(maps)), "/tmp/k/kiln")
	require.Equal(t, [][2]uintptr{{0x400000, 0x19fb000}, {0x19fb000, 0x35ba000}}, got)
}

// The test binary drops its own start-up pages and goes on running: what it touches next is
// mapped again. Its file-backed resident set shrinks (by a wide margin: it is tens of MiB).
// Not parallel: it measures the whole process, so it runs before the parallel tests resume.
func TestReleaseStartupShrinksTheResidentSetAndKeepsRunning(t *testing.T) {
	before := rssFileKiB(t)
	releaseStartup()
	after := rssFileKiB(t)
	t.Logf("RssFile %d KiB -> %d KiB", before, after)
	require.Less(t, after, before)
	require.Equal(t, "kiln", newRoot(newOutput(os.Stdout, os.Stderr)).Name(), "code and data still work")
}

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
