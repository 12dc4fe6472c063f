package jsonschema

import (
	"net/url"
	"strings"
	"time"
)

// format checks the formats Kiln documents; any other format is an annotation, as in
// 2020-12. Formats apply to strings, int64 to integers.
func (r *run) format(kv any, at string, val any, ptr string) {
	name, ok := kv.(string)
	if !ok {
		r.schemaError(at, "format must be a string")
		return
	}
	if name == "int64" {
		if x, isNum := rat(val); isNum && x.IsInt() && !x.Num().IsInt64() {
			r.fail(ptr, at, "want a 64-bit integer, got %s", short(val))
		}
		return
	}
	s, isStr := val.(string)
	if !isStr {
		return
	}
	if check, known := formatCheck(name); known && !check(s) {
		r.fail(ptr, at, "%s is not a valid %s", short(s), name)
	}
}

// formatCheck returns the check of a format Kiln documents.
func formatCheck(name string) (func(string) bool, bool) {
	switch name {
	case "date-time":
		return isDateTime, true
	case "date":
		return func(s string) bool { _, err := time.Parse(time.DateOnly, s); return err == nil }, true
	case "uuid":
		return isUUID, true
	case "email":
		return isEmail, true
	case "uri":
		return func(s string) bool { u, err := url.Parse(s); return err == nil && u.IsAbs() }, true
	}
	return nil, false
}

// isDateTime accepts RFC 3339 date-times (with a zone; T and Z in either case).
func isDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	return err == nil
}

// isUUID accepts the 8-4-4-4-12 hexadecimal form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isEmail accepts local@domain with a non-empty local part and a domain of dot-separated
// labels, without spaces: the shape of an address, not a deliverability check.
func isEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	for _, label := range strings.Split(s[at+1:], ".") {
		if label == "" {
			return false
		}
	}
	return true
}
