package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Local keeps objects as files under a directory: the key's slashes are directories. An
// object's download name, which S3 keeps as metadata, is kept in a file beside it,
// <key>.name (no key has a dot, so none names such a file).
type Local struct {
	dir string
}

// NewLocal returns a store in dir, which it creates if needed.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	return &Local{dir: dir}, nil
}

// Dir is the directory the store writes in.
func (l *Local) Dir() string { return l.dir }

func (l *Local) path(key string) string { return filepath.Join(l.dir, filepath.FromSlash(key)) }

// Put writes the object and its download name (removing a stale one when opts names
// none); each is written to a temporary file and renamed into place, so a reader never
// sees half of one.
func (l *Local) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, opts PutOpts) error {
	if err := checkKeys(key); err != nil {
		return err
	}
	p := l.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := writeFile(p, &ctxReader{ctx: ctx, r: body}, size); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	var err error
	if opts.Filename != "" {
		err = writeFile(p+nameSuffix, strings.NewReader(opts.Filename), int64(len(opts.Filename)))
	} else {
		err = removeIfAny(p + nameSuffix)
	}
	if err != nil {
		// A failed Put stores nothing: its caller discards only the keys it stored.
		_ = os.Remove(p)
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	return nil
}

// nameSuffix ends the name of the file that holds an object's download name.
const nameSuffix = ".name"

// Filename is the download name the object was stored with; empty when it has none (or
// is not there).
func (l *Local) Filename(key string) string {
	if checkKeys(key) != nil {
		return ""
	}
	b, err := os.ReadFile(l.path(key) + nameSuffix)
	if err != nil {
		return ""
	}
	return string(b)
}

// writeFile copies size bytes from r into a temporary file next to p and renames it to p.
func writeFile(p string, r io.Reader, size int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes the leftover on failure
	n, err := io.Copy(tmp, r)
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	return err
}

func removeIfAny(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Get opens the object's file.
func (l *Local) Get(_ context.Context, key string) (io.ReadCloser, error) {
	return l.Open(key)
}

// Open opens the object's file for serving (it is an io.ReadSeeker with a size).
func (l *Local) Open(key string) (*os.File, error) {
	if err := checkKeys(key); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return f, nil
}

// Delete removes the objects' files and their names.
func (l *Local) Delete(_ context.Context, keys []string) error {
	if err := checkKeys(keys...); err != nil {
		return err
	}
	for _, k := range keys {
		if err := removeIfAny(l.path(k)); err != nil {
			return fmt.Errorf("storage: delete %s: %w", k, err)
		}
		if err := removeIfAny(l.path(k) + nameSuffix); err != nil {
			return fmt.Errorf("storage: delete %s: %w", k, err)
		}
	}
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
