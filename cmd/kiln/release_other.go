//go:build !linux

package main

import "runtime/debug"

// releaseStartup gives the heap's free pages back; dropping the executable's pages is Linux only.
func releaseStartup() { debug.FreeOSMemory() }
