package storage

import (
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ContentDisposition is the Content-Disposition header (RFC 6266) a file of the media type
// is served with under filename: the disposition alone when filename is empty; the name as
// a token or a quoted string when it is printable ASCII; otherwise an ASCII fallback ('_'
// for each other character) followed by the exact name as filename* in UTF-8, percent-
// encoded (RFC 5987 ext-value), which every current browser prefers. Characters that are
// not printable (CR, LF, bidi overrides) are dropped, and the header is ASCII, so a name
// never breaks the header or adds one.
func ContentDisposition(contentType, filename string) string {
	disp := Disposition(contentType)
	name := printable(filename)
	if name == "" {
		return disp
	}
	if isASCII(name) {
		return mime.FormatMediaType(disp, map[string]string{"filename": name})
	}
	fallback := strings.Map(func(r rune) rune {
		if r >= utf8.RuneSelf {
			return '_'
		}
		return r
	}, name)
	return mime.FormatMediaType(disp, map[string]string{"filename": fallback}) + "; filename*=UTF-8''" + encodeExtValue(name)
}

// printable drops from s what is not a printable character (or is not UTF-8).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// encodeExtValue percent-encodes every byte of s that is not an attr-char of RFC 5987.
func encodeExtValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
