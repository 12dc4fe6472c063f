package files

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"path"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/kiln-dev/kiln/internal/spec"
)

// MaxDecodeBytes bounds the memory an image's decoding may take to make thumbnails
// (pixels × bytes per pixel of its colour model: a 40-megapixel 8-bit photo fits, a 16-bit
// one of half that size does): a larger picture, or a "decompression bomb" that claims to
// be one, is stored without thumbnails rather than decoded.
const MaxDecodeBytes = 160 << 20

// decodeBytes estimates the memory the decoded image takes.
func decodeBytes(cfg image.Config) int64 {
	per := int64(4)
	switch cfg.ColorModel {
	case color.RGBA64Model, color.NRGBA64Model:
		per = 8
	case color.Gray16Model:
		per = 2
	case color.GrayModel, color.AlphaModel:
		per = 1
	}
	return int64(cfg.Width) * int64(cfg.Height) * per
}

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

// ThumbName is the download name of a file's thumbnail of the size and type: the file's
// name without its extension, the size, and the thumbnail's extension (lamp_100x100.png).
func ThumbName(name, size, thumbType string) string {
	ext := ".jpg"
	if thumbType == "image/png" {
		ext = ".png"
	}
	return strings.TrimSuffix(name, path.Ext(name)) + "_" + size + ext
}

// measure reads an image's header; ok is false for what is not an image Kiln decodes.
func measure(r io.Reader, typ string) (image.Config, bool) {
	dec := configs[typ]
	if dec == nil {
		return image.Config{}, false
	}
	cfg, err := dec(r)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return image.Config{}, false
	}
	return cfg, true
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
