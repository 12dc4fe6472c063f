package spec

import (
	"fmt"
	"strings"
)

// Problem is one spec error at a position.
type Problem struct {
	Pos     Pos
	Message string
}

// Error renders the problem as "file:line:col: message".
func (p Problem) Error() string { return p.Pos.String() + ": " + p.Message }

// Errors is every problem found in a spec; it is returned whole so a user fixes all at once.
type Errors []Problem

// Error lists every problem, one per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

type collector struct {
	file     string
	problems Errors
}

func (c *collector) add(pos Pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

func (c *collector) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return c.problems
}
