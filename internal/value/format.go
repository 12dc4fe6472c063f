package value

import (
	"net/mail"
	"net/url"
)

// IsEmail reports whether s is a bare email address (no display name, nothing around it), as
// fields of type email take them.
func IsEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// IsWebURL reports whether s is an absolute http or https URL with a host, as fields of type
// url take them.
func IsWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
