package files

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

func TestSignerGrantsUntilTheRoundedExpiry(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	s := NewSigner([]byte("k"), time.Minute, func() time.Time { return now })
	exp := s.Expiry()
	require.Equal(t, int64(1_000_000/60+2)*60, exp.Unix(), "between one and two TTLs ahead, on a TTL boundary")
	q, err := url.ParseQuery(s.Query("a/b/c", exp, ""))
	require.NoError(t, err)
	require.Empty(t, s.Check("a/b/c", q))
	named, err := url.ParseQuery(s.Query("a/b/c", exp, "slip.pdf"))
	require.NoError(t, err)
	require.Empty(t, s.Check("a/b/c", named))
	named.Set("name", "evil.html")
	require.Equal(t, SignatureInvalid, s.Check("a/b/c", named), "the download name is part of the grant")
	named.Del("name")
	require.Equal(t, SignatureInvalid, s.Check("a/b/c", named), "and cannot be dropped")
	require.Equal(t, SignatureInvalid, s.Check("a/b/d", q), "another key")
	require.Equal(t, SignatureInvalid, NewSigner([]byte("other"), time.Minute, nil).Check("a/b/c", q), "another secret")
	q2, _ := url.ParseQuery(q.Encode())
	q2.Set("expires", "99999999999")
	require.Equal(t, SignatureInvalid, s.Check("a/b/c", q2), "a later expiry is not signed")
	require.Equal(t, SignatureMissing, s.Check("a/b/c", url.Values{}))
	now = exp
	require.Equal(t, SignatureExpired, s.Check("a/b/c", q))
}

func TestStoredValuesAndWhatAWriteRemoved(t *testing.T) {
	t.Parallel()
	one := &spec.Field{Name: "image", Type: spec.TypeFile, File: &spec.FileOpts{MaxFiles: 1}}
	many := &spec.Field{Name: "scans", Type: spec.TypeFile, File: &spec.FileOpts{MaxFiles: 3}}
	a := File{ID: "11111111-1111-4111-8111-111111111111", Name: "a.png", Type: "image/png", Size: 3, Thumbs: []string{"10x10"}}
	b := File{ID: "22222222-2222-4222-8222-222222222222", Name: "b.pdf", Type: "application/pdf", Size: 4}
	v, err := Encode(one, []File{a})
	require.NoError(t, err)
	require.Equal(t, byte('{'), v.(string)[0])
	got, err := Parse(v)
	require.NoError(t, err)
	require.Equal(t, []File{a}, got)
	v, err = Encode(many, []File{a, b})
	require.NoError(t, err)
	got, err = Parse(v)
	require.NoError(t, err)
	require.Equal(t, []File{a, b}, got)
	none, err := Encode(many, nil)
	require.NoError(t, err)
	require.Nil(t, none)
	require.Equal(t, []string{"r/scans/" + a.ID, "r/scans/" + a.ID + "_10x10"}, Removed("r", "scans", []File{a, b}, []File{b}))
	_, err = Parse("{not json")
	require.Error(t, err)
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "passwd", CleanName("../../etc/passwd"))
	require.Equal(t, "x.png", CleanName(`C:\Users\me\x.png`))
	require.Equal(t, "ab.txt", CleanName("a\r\n\"b.txt"))
	require.Equal(t, "file", CleanName(""))
	require.Len(t, CleanName(string(bytes.Repeat([]byte("é"), 300))), 200)
}

func TestThumbnailsFitTheBoxAndKeepTheAspect(t *testing.T) {
	t.Parallel()
	src := image.NewNRGBA(image.Rect(0, 0, 400, 100))
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, src, nil))
	cfg0, ok := measure(bytes.NewReader(buf.Bytes()), "image/jpeg")
	require.True(t, ok)
	require.Equal(t, [2]int{400, 100}, [2]int{cfg0.Width, cfg0.Height})
	require.EqualValues(t, 8*6000*6000, decodeBytes(image.Config{ColorModel: color.NRGBA64Model, Width: 6000, Height: 6000}))
	require.Greater(t, decodeBytes(image.Config{ColorModel: color.NRGBA64Model, Width: 6000, Height: 6000}), int64(MaxDecodeBytes),
		"a 16-bit 36-megapixel image is not decoded")
	thumbs, err := thumbnails(bytes.NewReader(buf.Bytes()), "image/jpeg", []spec.Thumb{{Name: "50x50", W: 50, H: 50}, {Name: "800x800", W: 800, H: 800}})
	require.NoError(t, err)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumbs["50x50"]))
	require.NoError(t, err)
	require.Equal(t, [2]int{50, 12}, [2]int{cfg.Width, cfg.Height})
	cfg, err = jpeg.DecodeConfig(bytes.NewReader(thumbs["800x800"]))
	require.NoError(t, err)
	require.Equal(t, [2]int{400, 100}, [2]int{cfg.Width, cfg.Height}, "never enlarged")
	_, ok = measure(bytes.NewReader([]byte("not an image")), "image/png")
	require.False(t, ok)
	require.Equal(t, "image/png", ThumbType("image/gif"))
}

func TestThumbName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, size, typ, want string }{
		{name: "lamp.png", size: "100x100", typ: "image/png", want: "lamp_100x100.png"},
		{name: "photo.JPEG", size: "400x400", typ: "image/jpeg", want: "photo_400x400.jpg"},
		{name: "anim.gif", size: "10x10", typ: "image/png", want: "anim_10x10.png"},
		{name: "noext", size: "10x10", typ: "image/jpeg", want: "noext_10x10.jpg"},
		{name: "Küche.webp", size: "10x10", typ: "image/jpeg", want: "Küche_10x10.jpg"},
	} {
		require.Equal(t, tt.want, ThumbName(tt.name, tt.size, tt.typ), tt.name)
	}
}
