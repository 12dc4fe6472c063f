package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Storage says where uploaded files live (docs/files.md). Credentials for S3 come only
// from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
type Storage struct {
	Pos Pos
	// KeyPos holds where each value given is written: provider, url_ttl, s3.bucket …
	KeyPos map[string]Pos
	// Provider is local (a directory, by default files/ under the data dir) or s3.
	Provider string
	// Dir overrides the local directory.
	Dir string
	// URLTTL is how long a signed file URL stays valid (default 15 minutes).
	URLTTL time.Duration
	S3     StorageS3
}

// StorageS3 is an S3-compatible bucket (AWS, R2, MinIO, versitygw …).
type StorageS3 struct {
	Bucket   string
	Region   string
	Endpoint string // empty: AWS's own endpoint for the region
	// PathStyle addresses the bucket in the path (endpoint/bucket/key), as most
	// S3-compatible servers want, instead of in the host name.
	PathStyle bool
}

// Storage providers.
const (
	StorageLocal  = "local"
	StorageS3Name = "s3"
	// DefaultURLTTL is a signed file URL's lifetime when the spec sets none.
	DefaultURLTTL = 15 * time.Minute
	// MaxURLTTL is the longest url_ttl.
	MaxURLTTL = 72 * time.Hour
	// DefaultMaxFileSize bounds a file field without max_size.
	DefaultMaxFileSize = 10 << 20
)

// FileOpts are the options of a `type: file` field.
type FileOpts struct {
	// MaxSize is the largest file accepted, in bytes.
	MaxSize int64
	// Accept lists the media types allowed, sniffed from the content: "image/png" or
	// "image/*". Empty: any.
	Accept []string
	// Thumbnails are the sizes made of every image uploaded ("200x200": fit inside).
	Thumbnails []Thumb
	// MaxFiles above 1 makes the field a list of files.
	MaxFiles int
	// Public files are served to anyone who has the URL, which never expires; other files
	// through URLs signed for Storage.URLTTL, given only to those who may view the record.
	Public bool
}

// Thumb is one thumbnail size.
type Thumb struct {
	Name string // "200x200"
	W, H int
}

var (
	fileKeys      = []string{"max_size", "accept", "thumbnails", "max_files", "public"}
	storageKeys   = []string{"provider", "dir", "url_ttl", "s3"}
	storageS3Keys = []string{"bucket", "region", "endpoint", "path_style"}
	thumbPattern  = regexp.MustCompile(`^([1-9][0-9]{0,3})x([1-9][0-9]{0,3})$`)
	sizePattern   = regexp.MustCompile(`^([0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$`)
)

// at is where the value of key is written, or the storage block's position.
func (st *Storage) at(key string) Pos { return keyAt(st.KeyPos, st.Pos, key) }

func (w *walker) storage(n ast.Node, st *Storage) {
	st.Pos, st.KeyPos = w.pos(n), map[string]Pos{}
	entries, _ := w.mapping(n, "storage", storageKeys...)
	for _, e := range entries {
		st.KeyPos[e.key] = w.pos(e.value)
		switch e.key {
		case "provider":
			st.Provider = w.str(e.value, "storage.provider")
		case "dir":
			st.Dir = w.str(e.value, "storage.dir")
		case "url_ttl":
			st.URLTTL = w.duration(e.value, "storage.url_ttl")
		case "s3":
			w.storageS3(e.value, &st.S3, st.KeyPos)
		}
	}
}

func (w *walker) storageS3(n ast.Node, s3 *StorageS3, keyPos map[string]Pos) {
	entries, _ := w.mapping(n, "storage.s3", storageS3Keys...)
	for _, e := range entries {
		what := "storage.s3." + e.key
		keyPos["s3."+e.key] = w.pos(e.value)
		switch e.key {
		case "bucket":
			s3.Bucket = w.str(e.value, what)
		case "region":
			s3.Region = w.str(e.value, what)
		case "endpoint":
			s3.Endpoint = w.str(e.value, what)
		case "path_style":
			s3.PathStyle = w.boolean(e.value, what)
		}
	}
}

// fileOption reads one of a file field's own keys; false when key is not one.
func (w *walker) fileOption(f *Field, fe entry, what string) bool {
	if !slices.Contains(fileKeys, fe.key) {
		return false
	}
	if f.File == nil {
		f.File = &FileOpts{}
	}
	switch fe.key {
	case "max_size":
		f.File.MaxSize = w.byteSize(fe.value, what)
	case "accept":
		f.File.Accept = w.strings(fe.value, what)
	case "thumbnails":
		for _, s := range w.strings(fe.value, what) {
			m := thumbPattern.FindStringSubmatch(s)
			if m == nil {
				w.add(w.pos(fe.value), "%s: %q is not a size such as 200x200 (1 to 9999 pixels each way)", what, s)
				continue
			}
			wd, _ := strconv.Atoi(m[1])
			ht, _ := strconv.Atoi(m[2])
			f.File.Thumbnails = append(f.File.Thumbnails, Thumb{Name: s, W: wd, H: ht})
		}
	case "max_files":
		if v, ok := w.integer(fe.value, what); ok && (v < 1 || v > 100) {
			w.add(w.pos(fe.value), "%s must be between 1 and 100", what)
		} else {
			f.File.MaxFiles = int(v)
		}
	case "public":
		f.File.Public = w.boolean(fe.value, what)
	}
	return true
}

// byteSize reads a size: 1048576, 512KB, 10MB or 10MiB (KB and MB are powers of 1024 too,
// as users of upload limits expect).
func (w *walker) byteSize(n ast.Node, what string) int64 {
	s, _, ok := w.scalar(n, what)
	if !ok {
		return 0
	}
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(s))
	v, err := int64(0), error(nil)
	if m != nil {
		v, err = strconv.ParseInt(m[1], 10, 64)
	}
	if m == nil || err != nil || v <= 0 {
		w.add(w.pos(n), "%s must be a positive size such as 5MB or 1048576, not %q", what, s)
		return 0
	}
	shift := map[string]uint{"": 0, "B": 0, "KB": 10, "KiB": 10, "MB": 20, "MiB": 20, "GB": 30, "GiB": 30}[m[2]]
	if v > (1<<62)>>shift {
		w.add(w.pos(n), "%s is too large", what)
		return 0
	}
	return v << shift
}

func validateStorage(s *Spec, c *collector) {
	st := &s.Storage
	if st.Provider == "" {
		st.Provider = StorageLocal
	}
	if st.URLTTL == 0 {
		st.URLTTL = DefaultURLTTL
	}
	if st.URLTTL > MaxURLTTL {
		c.add(st.at("url_ttl"), "storage.url_ttl must be at most %s (signed URLs live up to twice as long, and S3 signs for 7 days at most)", MaxURLTTL)
	}
	switch st.Provider {
	case StorageLocal:
	case StorageS3Name:
		if st.S3.Bucket == "" || st.S3.Region == "" {
			c.add(st.Pos, "storage.s3 needs bucket and region to store files in S3")
		}
		if st.S3.Endpoint != "" && !strings.HasPrefix(st.S3.Endpoint, "https://") && !strings.HasPrefix(st.S3.Endpoint, "http://") {
			c.add(st.at("s3.endpoint"), "storage.s3.endpoint must be an http:// or https:// URL, not %q", st.S3.Endpoint)
		}
	default:
		c.add(st.at("provider"), "storage.provider %q is not one of [local s3]", st.Provider)
	}
}

// validateFile checks a file field's options; fields of other types may not carry them.
func validateFile(s *Spec, f *Field, c *collector) {
	if f.Type != TypeFile {
		if f.File != nil {
			c.add(f.Pos, "field %s: max_size, accept, thumbnails, max_files and public apply to file fields", f.Name)
		}
		return
	}
	if f.File == nil {
		f.File = &FileOpts{}
	}
	o := f.File
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxFileSize
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = 1
	}
	for _, a := range o.Accept {
		if !validMediaRange(a) {
			c.add(f.Pos, "field %s: accept %q is not a media type such as image/png or image/*", f.Name, a)
		}
	}
	if f.Required || f.Unique || f.HasDefault || f.Compute.Set() || f.DefaultExpr.Set() {
		c.add(f.Pos, "field %s: a file field cannot be required, unique, defaulted or computed (files are uploaded after the record exists)", f.Name)
	}
	if !o.Public && s.Auth == nil {
		c.add(f.Pos, "field %s: without auth every file is readable by anyone; say public: true", f.Name)
	}
	f.Readonly = true // written only through the upload endpoints
}

func validMediaRange(s string) bool {
	typ, sub, ok := strings.Cut(s, "/")
	if !ok || typ == "" || sub == "" || typ == "*" || strings.ContainsAny(s, " ;,") {
		return false
	}
	return sub == "*" || !strings.Contains(sub, "*")
}

// Accepts reports whether the sniffed media type is allowed.
func (o *FileOpts) Accepts(mediaType string) bool {
	if len(o.Accept) == 0 {
		return true
	}
	typ, _, _ := strings.Cut(mediaType, "/")
	return slices.Contains(o.Accept, mediaType) || slices.Contains(o.Accept, typ+"/*")
}

// Thumb returns the thumbnail size named name, or nil.
func (o *FileOpts) Thumb(name string) *Thumb {
	for i := range o.Thumbnails {
		if o.Thumbnails[i].Name == name {
			return &o.Thumbnails[i]
		}
	}
	return nil
}

// String names the size.
func (t Thumb) String() string { return fmt.Sprintf("%dx%d", t.W, t.H) }
