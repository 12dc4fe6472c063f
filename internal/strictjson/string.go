package strictjson

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// str reads a quoted string at d.i. The common case — printable ASCII or valid UTF-8 without
// escapes — is sliced straight from the input; escapes go through a builder.
func (d *decoder) str() (string, error) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", d.control(c)
		case c < utf8.RuneSelf:
			d.i++
		default:
			if err := d.utf8Rune(); err != nil {
				return "", err
			}
		}
	}
	return "", d.fail(CodeSyntax, "unterminated string")
}

func (d *decoder) control(c byte) error {
	if c == 0 {
		return d.fail(CodeNUL, "text may not contain NUL characters")
	}
	return d.fail(CodeSyntax, "control character %#02x in a string (escape it)", c)
}

// utf8Rune steps over one multi-byte UTF-8 sequence at d.i, refusing invalid ones.
func (d *decoder) utf8Rune() error {
	r, size := utf8.DecodeRune(d.b[d.i:])
	if r == utf8.RuneError && size <= 1 {
		return d.fail(CodeInvalidUTF8, "the text is not valid UTF-8")
	}
	d.i += size
	return nil
}

// escaped finishes a string that has escapes; start is where its content began.
func (d *decoder) escaped(start int) (string, error) {
	var sb strings.Builder
	sb.Write(d.b[start:d.i])
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return sb.String(), nil
		case c == '\\':
			if err := d.escape(&sb); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", d.control(c)
		case c < utf8.RuneSelf:
			sb.WriteByte(c)
			d.i++
		default:
			from := d.i
			if err := d.utf8Rune(); err != nil {
				return "", err
			}
			sb.Write(d.b[from:d.i])
		}
	}
	return "", d.fail(CodeSyntax, "unterminated string")
}

var simpleEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape reads one backslash escape at d.i into sb.
func (d *decoder) escape(sb *strings.Builder) error {
	if d.i+1 >= len(d.b) {
		return d.fail(CodeSyntax, "unterminated string")
	}
	if c, ok := simpleEscapes[d.b[d.i+1]]; ok {
		sb.WriteByte(c)
		d.i += 2
		return nil
	}
	if d.b[d.i+1] != 'u' {
		return d.fail(CodeSyntax, "invalid escape \\%c", rune(d.b[d.i+1]))
	}
	r, ok := d.hex4(d.i + 2)
	if !ok {
		return d.fail(CodeSyntax, "invalid \\u escape: four hex digits must follow")
	}
	switch {
	case r == 0:
		return d.fail(CodeNUL, "text may not contain NUL characters")
	case utf16.IsSurrogate(r):
		return d.surrogatePair(sb, r)
	}
	sb.WriteRune(r)
	d.i += 6
	return nil
}

// surrogatePair reads a \uD800-\uDBFF escape followed by its \uDC00-\uDFFF partner.
func (d *decoder) surrogatePair(sb *strings.Builder, hi rune) error {
	if hi < 0xDC00 && d.i+12 <= len(d.b) && d.b[d.i+6] == '\\' && d.b[d.i+7] == 'u' {
		if lo, ok := d.hex4(d.i + 8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
			sb.WriteRune(utf16.DecodeRune(hi, lo))
			d.i += 12
			return nil
		}
	}
	return d.fail(CodeLoneSurrogate, "a \\u surrogate escape without its pair is not text")
}

func (d *decoder) hex4(at int) (rune, bool) {
	if at+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
