// Package storage keeps uploaded files: in a local directory (the default) or in an
// S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, versitygw …). Objects are written
// whole from a local file (uploads are streamed to a temporary file first), read back as
// streams, deleted in batches, and — in S3 — handed out through presigned URLs.
package storage

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"time"
)

// ErrNotFound is returned for a key the store does not hold.
var ErrNotFound = errors.New("storage: no such object")

// ErrDenied is a store that refused the server's credentials or has no such bucket: its
// configuration is wrong, and no retry will help.
var ErrDenied = errors.New("storage: the store refused the credentials or the bucket")

// Store is where file contents live.
type Store interface {
	// Put stores size bytes from body under key, replacing what was there, with the
	// media type and download name it is served with.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, opts PutOpts) error
	// Get streams the object (ErrNotFound when absent); the caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the objects; keys that are already gone are not an error.
	Delete(ctx context.Context, keys []string) error
}

// PutOpts describe a stored object.
type PutOpts struct {
	ContentType string
	// Filename is the name the object is downloaded as (its Content-Disposition); empty:
	// none, and a browser names it after the URL.
	Filename string
}

// Presigner is a Store whose objects clients fetch or send directly, through URLs the
// store signs (S3). Kiln serves a Store that is not one itself.
type Presigner interface {
	// PresignGet returns a URL valid for ttl that downloads key, served with the content
	// type and as filename.
	PresignGet(ctx context.Context, key string, ttl time.Duration, filename, contentType string) (string, error)
	// PresignPut returns a URL valid for ttl that uploads exactly size bytes to key.
	PresignPut(ctx context.Context, key string, ttl time.Duration, size int64) (string, error)
}

// keyPattern is every key Kiln makes: resource/field/file-id, a thumbnail's
// resource/field/file-id_WxH, and a direct upload's _staging/file-id. Nothing else is read or written, so a key can never climb
// out of the local directory or name another application's object.
var keyPattern = regexp.MustCompile(`^([a-z][a-z0-9_]{0,62}/[a-z][a-z0-9_]{0,62}/` + uuidPattern + `(_[0-9]{1,4}x[0-9]{1,4})?|` +
	StagingPrefix + uuidPattern + `)$`)

const uuidPattern = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

// StagingPrefix holds direct uploads until Kiln has checked them and copied them to their
// key: a client's presigned PUT never writes where a record's file lives. A bucket
// lifecycle rule on this prefix removes uploads never completed.
const StagingPrefix = "_staging/"

// inlineTypes are shown in the browser; every other type is downloaded, so an uploaded
// HTML or SVG page never runs as the site's page.
var inlineTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"application/pdf": true, "text/plain": true, "video/mp4": true, "video/webm": true, "audio/mpeg": true, "audio/wave": true}

// Disposition is how a file of the media type is served: "inline" or "attachment".
func Disposition(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	if inlineTypes[strings.TrimSpace(t)] {
		return "inline"
	}
	return "attachment"
}

// ValidKey reports whether key is one Kiln makes.
func ValidKey(key string) bool { return keyPattern.MatchString(key) }

type keyError struct{ key string }

func (e *keyError) Error() string { return "storage: invalid key " + e.key }

func checkKeys(keys ...string) error {
	for _, k := range keys {
		if !ValidKey(k) {
			return &keyError{key: k}
		}
	}
	return nil
}
