//go:build linux

package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// releaseStartup gives back the memory start-up used and serving does not: the heap's free
// pages, and this process's mappings of the pages of the kiln executable that start-up read
// (package initialisation, parsing and compiling the spec, checking the schema — with the
// kernel's fault-around, most of the binary). Those are clean read-only file pages: dropping
// the mappings (MADV_DONTNEED) loses nothing, the kernel keeps the pages in its page cache and
// maps again whatever serving touches on first use. Writable mappings are never touched.
func releaseStartup() {
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	for _, m := range readOnlyMappings(bufio.NewScanner(f), exe) {
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, m[0], m[1]-m[0], syscall.MADV_DONTNEED)
	}
}

// readOnlyMappings lists the [start, end) ranges of the read-only private mappings of file
// exe in /proc/self/maps lines ("start-end perms offset dev inode path").
func readOnlyMappings(sc *bufio.Scanner, exe string) [][2]uintptr {
	var out [][2]uintptr
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 6)
		if len(f) < 6 || strings.TrimLeft(f[5], " ") != exe || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if ok && err1 == nil && err2 == nil && end > start {
			out = append(out, [2]uintptr{uintptr(start), uintptr(end)})
		}
	}
	return out
}
