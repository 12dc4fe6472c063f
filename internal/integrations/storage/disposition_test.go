package storage

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestContentDisposition(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		contentType string
		filename    string
		want        string
	}{
		{name: "NoName", contentType: "image/png", filename: "", want: "inline"},
		{name: "Token", contentType: "image/png", filename: "lamp.png", want: "inline; filename=lamp.png"},
		{name: "AttachmentForHTML", contentType: "text/html; charset=utf-8", filename: "page.html", want: "attachment; filename=page.html"},
		{name: "SpacesQuoted", contentType: "application/pdf", filename: "my invoice.pdf", want: `inline; filename="my invoice.pdf"`},
		{name: "QuoteAndBackslashEscaped", contentType: "application/pdf", filename: `a"; evil=1\.pdf`, want: `inline; filename="a\"; evil=1\\.pdf"`},
		{name: "CRLFDropped", contentType: "application/pdf", filename: "a\r\nSet-Cookie: x=1.pdf", want: `inline; filename="aSet-Cookie: x=1.pdf"`},
		{name: "NonASCII", contentType: "application/pdf", filename: "Rechnung für Müller.pdf",
			want: `inline; filename="Rechnung f_r M_ller.pdf"; filename*=UTF-8''Rechnung%20f%C3%BCr%20M%C3%BCller.pdf`},
		{name: "BidiOverrideDropped", contentType: "application/zip", filename: "evil\u202egnp.exe", want: "attachment; filename=evilgnp.exe"},
		{name: "OnlyControls", contentType: "image/png", filename: "\r\n\x00", want: "inline"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ContentDisposition(tt.contentType, tt.filename))
		})
	}
}

// FuzzContentDisposition holds every header to ASCII without control characters, and to
// giving back, parsed, the printable part of the name.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"lamp.png", "a\r\nb", `"; filename=evil.html`, "für.pdf", "\xff\xfe", "%41'en'x", "日本語.txt", " ", "a\\\"b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := ContentDisposition("application/pdf", name)
		for i := range len(h) {
			if h[i] < ' ' || h[i] >= utf8.RuneSelf {
				t.Fatalf("byte %q in %q", h[i], h)
			}
		}
		_, params, err := mime.ParseMediaType(h)
		if err != nil {
			t.Fatalf("%q does not parse: %v", h, err)
		}
		if want := printable(name); params["filename"] != want {
			t.Fatalf("%q gives back %q, want %q", h, params["filename"], want)
		}
		if strings.Contains(h, "\n") {
			t.Fatalf("line break in %q", h)
		}
	})
}
