package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-dev/kiln/internal/integrations/storage"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Receive streams body — the content of one upload — into a temporary file, checks its
// size and its type (sniffed from the content, never taken from the name or the client's
// header), makes the field's thumbnails of an image, and stores all of it. The memory used
// does not grow with the file. The caller records the File in the record, and deletes
// what was stored (Discard) if it cannot.
func (x *Files) Receive(ctx context.Context, res string, f *spec.Field, name string, body io.Reader) (File, error) {
	return x.ingest(ctx, res, f, File{ID: x.newID(), Name: CleanName(name)}, body, true)
}

// ingest checks the content in body and stores the thumbnails, and the file itself when
// putFile (a direct upload's file is in storage already).
func (x *Files) ingest(ctx context.Context, res string, f *spec.Field, fl File, body io.Reader, putFile bool) (File, error) {
	tmp, err := os.CreateTemp(x.tmp, "upload-*")
	if err != nil {
		return File{}, fmt.Errorf("files: %w", err)
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	n, err := io.Copy(tmp, io.LimitReader(body, f.File.MaxSize+1))
	if err != nil {
		return File{}, readError(err)
	}
	if n > f.File.MaxSize {
		return File{}, &service.Error{Code: service.CodePayloadTooLarge, Message: fmt.Sprintf("%s takes files up to %d bytes", f.Name, f.File.MaxSize)}
	}
	if n == 0 {
		return File{}, fieldError(f.Name, "empty", "is an empty file")
	}
	fl.Size = n
	if fl.Type, err = sniff(tmp); err != nil {
		return File{}, err
	}
	if !f.File.Accepts(fl.Type) {
		return File{}, &service.Error{Code: service.CodeUnsupportedType,
			Message: fmt.Sprintf("%s does not take %s files (it takes %s)", f.Name, fl.Type, strings.Join(f.File.Accept, ", "))}
	}
	thumbs, err := x.image(ctx, tmp, &fl, f.Name, f.File.Thumbnails)
	if err != nil {
		return File{}, err
	}
	return fl, x.put(ctx, res, f.Name, tmp, fl, thumbs, putFile)
}

func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &service.Error{Code: service.CodePayloadTooLarge, Message: "the request body is too large"}
	}
	return &service.Error{Code: service.CodeMalformed, Message: "the upload could not be read to its end", Cause: err}
}

func fieldError(field, code, msg string) error {
	return &service.Error{Code: service.CodeValidation, Message: "the upload is not valid",
		Fields: []service.FieldError{{Field: field, Code: code, Message: msg}}}
}

// sniff is the media type of the file's first 512 bytes, without parameters.
func sniff(f *os.File) (string, error) {
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("files: %w", err)
	}
	t, _, _ := mime.ParseMediaType(http.DetectContentType(head[:n]))
	return t, nil
}

// image measures an image and makes its thumbnails (none when it is not an image Kiln
// decodes, or would take more than MaxDecodeBytes to decode). Images are decoded one at a
// time per process; a request waiting for its turn gives up when it ends.
func (x *Files) image(ctx context.Context, tmp *os.File, fl *File, field string, sizes []spec.Thumb) (map[string][]byte, error) {
	cfg, ok := measure(io.NewSectionReader(tmp, 0, fl.Size), fl.Type)
	if !ok {
		if configs[fl.Type] != nil {
			return nil, fieldError(field, "invalid_image", "is not a readable "+fl.Type+" image")
		}
		return nil, nil
	}
	fl.Width, fl.Height = cfg.Width, cfg.Height
	if len(sizes) == 0 || decodeBytes(cfg) > MaxDecodeBytes {
		return nil, nil
	}
	select {
	case x.decoder <- struct{}{}:
	case <-ctx.Done():
		return nil, &service.Error{Code: service.CodeUnavailable, Message: "the upload was not finished", Cause: ctx.Err(), RetryAfter: 2}
	}
	defer func() { <-x.decoder }()
	thumbs, err := thumbnails(io.NewSectionReader(tmp, 0, fl.Size), fl.Type, sizes)
	if err != nil {
		return nil, fieldError(field, "invalid_image", "is not a readable "+fl.Type+" image")
	}
	for _, s := range sizes {
		fl.Thumbs = append(fl.Thumbs, s.Name)
	}
	return thumbs, nil
}

// CodeStorageOff is the code of a store that refused the server's credentials or bucket.
const CodeStorageOff = "storage_not_configured"

// storeFailed answers a store's failure: 503 storage_not_configured without Retry-After when it
// refused the server's credentials or bucket — no retry helps, and clients must not loop on
// it — else 503 with Retry-After, msg, as for any outage.
func storeFailed(err error, msg string) *service.Error {
	if errors.Is(err, storage.ErrDenied) {
		return &service.Error{Code: CodeStorageOff, Class: service.CodeUnavailable, Cause: err,
			Message: "file storage refused the server's credentials or bucket: its configuration needs fixing (the server's log says more)"}
	}
	return &service.Error{Code: service.CodeUnavailable, Message: msg, Cause: err, RetryAfter: 2}
}

// put stores the file and its thumbnails; on failure it removes what it stored.
func (x *Files) put(ctx context.Context, res, field string, tmp *os.File, fl File, thumbs map[string][]byte, putFile bool) error {
	var done []string
	fail := func(err error) error {
		x.Discard(context.WithoutCancel(ctx), done)
		return storeFailed(err, "the file could not be stored; try again")
	}
	if putFile {
		key := Key(res, field, fl.ID)
		if err := x.store.Put(ctx, key, io.NewSectionReader(tmp, 0, fl.Size), fl.Size, storage.PutOpts{ContentType: fl.Type, Filename: fl.Name}); err != nil {
			return fail(err)
		}
		done = append(done, key)
	}
	for _, t := range fl.Thumbs {
		key := ThumbKey(res, field, fl.ID, t)
		b := thumbs[t]
		typ := ThumbType(fl.Type)
		if err := x.store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), storage.PutOpts{ContentType: typ, Filename: ThumbName(fl.Name, t, typ)}); err != nil {
			return fail(err)
		}
		done = append(done, key)
	}
	return nil
}

// Discard deletes stored objects no record holds (an upload whose write failed); a
// failure is logged, the objects are then orphans.
func (x *Files) Discard(ctx context.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	if err := x.store.Delete(ctx, keys); err != nil {
		x.log.WarnContext(ctx, "stored files of a failed upload were not deleted", "keys", strings.Join(keys, " "), "error", err.Error())
	}
}

// CleanName keeps a client's file name fit to show and to send back in a
// Content-Disposition header: its last path element, printable, at most 200 bytes.
func CleanName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == "/" {
		return "file"
	}
	return name
}
