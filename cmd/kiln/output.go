package main

import (
	"fmt"
	"io"
	"os"
)

// output prints progress and results: colored on a terminal, plain in CI or a pipe.
type output struct {
	out, err io.Writer
	color    bool
}

func newOutput(out, errw *os.File) *output {
	color := false
	if fi, err := out.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		color = os.Getenv("CI") == "" && os.Getenv("NO_COLOR") == ""
	}
	return &output{out: out, err: errw, color: color}
}

func (o *output) paint(code, s string) string {
	if !o.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (o *output) ok(format string, args ...any) {
	fmt.Fprintln(o.out, o.paint("32", "✓")+" "+fmt.Sprintf(format, args...))
}

func (o *output) warn(format string, args ...any) {
	fmt.Fprintln(o.out, o.paint("33", "!")+" "+fmt.Sprintf(format, args...))
}

func (o *output) info(format string, args ...any) {
	fmt.Fprintln(o.out, fmt.Sprintf(format, args...))
}

func (o *output) step(format string, args ...any) {
	fmt.Fprintln(o.out, o.paint("36", "→")+" "+fmt.Sprintf(format, args...))
}
