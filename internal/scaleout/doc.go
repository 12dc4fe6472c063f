// Package scaleout holds Kiln's scale-out tests: real `kiln` processes, built once per test
// binary, started at once on one PostgreSQL schema and one Redis of their own, with the
// failures docs/scaling.md describes (a paused or stopped Redis, killed database connections)
// injected mid-load. It has no code of its own; everything is in its _test.go files.
package scaleout
