package value

import (
	"strings"
	"unicode/utf8"
)

// Text problem codes, shared by every place text enters (bodies, query parameters, filters,
// the CLI): PostgreSQL cannot store NUL in text and SQLite would store it, so both refuse it
// alike, before any SQL runs.
const (
	TextNUL         = "nul_character"
	TextInvalidUTF8 = "invalid_utf8"
)

// TextProblem returns the code of what makes s unusable as text, or "" when it is fine.
func TextProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return TextNUL
	case !utf8.ValidString(s):
		return TextInvalidUTF8
	}
	return ""
}

// TextMessage explains a TextProblem code to a client.
func TextMessage(code string) string {
	if code == TextNUL {
		return "text may not contain NUL characters"
	}
	return "the text is not valid UTF-8"
}
