package files

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/kiln-dev/kiln/internal/spec"
)

// MaxPixels bounds the images Kiln decodes to make thumbnails (40 megapixels, more than
// any phone camera): a larger picture, or a "decompression bomb" that claims to be one,
// is stored without thumbnails rather than decoded.
const MaxPixels = 40_000_000

// imageTypes are the sniffed types Kiln can decode.
var imageTypes = map[string]func(io.Reader) (image.Image, error){
	"image/png": png.Decode, "image/jpeg": jpeg.Decode, "image/gif": gif.Decode, "image/webp": webp.Decode,
}

var configs = map[string]func(io.Reader) (image.Config, error){
	"image/png": png.DecodeConfig, "image/jpeg": jpeg.DecodeConfig, "image/gif": gif.DecodeConfig, "image/webp": webp.DecodeConfig,
}

// ThumbType is the type of a thumbnail made of an image of type t: PNG keeps transparency
// for PNG and GIF sources, JPEG is smaller for photographs.
func ThumbType(t string) string {
	if t == "image/png" || t == "image/gif" {
		return "image/png"
	}
	return "image/jpeg"
}

// measure reads an image's dimensions from its header; ok is false for what is not an
// image Kiln decodes.
func measure(r io.Reader, typ string) (w, h int, ok bool) {
	dec := configs[typ]
	if dec == nil {
		return 0, 0, false
	}
	cfg, err := dec(r)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// thumbnails decodes the image once and encodes one thumbnail per size: scaled to fit
// inside it (never enlarged), aspect ratio kept.
func thumbnails(r io.Reader, typ string, sizes []spec.Thumb) (map[string][]byte, error) {
	src, err := imageTypes[typ](r)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	out := make(map[string][]byte, len(sizes))
	for _, s := range sizes {
		b, err := encodeThumb(scale(src, s.W, s.H), ThumbType(typ))
		if err != nil {
			return nil, err
		}
		out[s.Name] = b
	}
	return out, nil
}

func scale(src image.Image, maxW, maxH int) image.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > maxW || h > maxH {
		if w*maxH > h*maxW { // wider than the box: the width decides
			w, h = maxW, max(1, h*maxW/w)
		} else {
			w, h = max(1, w*maxH/h), maxH
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}

func encodeThumb(img image.Image, typ string) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if typ == "image/png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		return nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}
