package files

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/storage"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Config wires the file fields of a spec.
type Config struct {
	Spec  *spec.Spec
	Store storage.Store
	// Jobs stages the jobs that delete files records no longer hold.
	Jobs Stager
	// TempDir receives uploads while they are checked (default os.TempDir()).
	TempDir string
	// SignKey signs protected files' URLs (derived from the auth secret).
	SignKey []byte
	// PublicURL prefixes the URLs Kiln serves ("https://api.example.com"); empty: the URLs
	// are paths on this server.
	PublicURL string
	NewID     func() string
	Now       func() time.Time
	Logger    *slog.Logger
}

// Files receives, describes, serves and removes the files of a spec's file fields.
type Files struct {
	spec    *spec.Spec
	store   storage.Store
	stager  Stager
	tmp     string
	signer  *Signer
	ttl     time.Duration
	prefix  string // PublicURL + base path + "/_files/"
	newID   func() string
	log     *slog.Logger
	decoder chan struct{} // one image decoded at a time: decoding a photo takes tens of MB
}

// New builds Files.
func New(cfg Config) (*Files, error) {
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if err := os.MkdirAll(cfg.TempDir, 0o750); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ttl := cfg.Spec.Storage.URLTTL
	return &Files{spec: cfg.Spec, store: cfg.Store, stager: cfg.Jobs, tmp: cfg.TempDir, signer: NewSigner(cfg.SignKey, ttl, cfg.Now), ttl: ttl,
		prefix: strings.TrimSuffix(cfg.PublicURL, "/") + strings.TrimSuffix(cfg.Spec.Server.BasePath, "/") + "/_files/",
		newID:  cfg.NewID, log: cfg.Logger, decoder: make(chan struct{}, 1)}, nil
}

// Signer signs the URLs of protected files.
func (x *Files) Signer() *Signer { return x.signer }

// Store is where the files live.
func (x *Files) Store() storage.Store { return x.store }

// Field returns the file field a storage key belongs to, the file id, and the thumbnail
// size when the key is a thumbnail's; nil when the key is no file of the spec.
func (x *Files) Field(key string) (res *spec.Resource, f *spec.Field, id, thumb string) {
	if !storage.ValidKey(key) {
		return nil, nil, "", ""
	}
	parts := strings.SplitN(key, "/", 3)
	res = x.spec.Resource(parts[0])
	if res == nil {
		return nil, nil, "", ""
	}
	f = res.Field(parts[1])
	if f == nil || f.Type != spec.TypeFile {
		return nil, nil, "", ""
	}
	id, thumb, _ = strings.Cut(parts[2], "_")
	if thumb != "" && f.File.Thumb(thumb) == nil {
		return nil, nil, "", ""
	}
	return res, f, id, thumb
}

// View is a file as the API shows it.
type View struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Size       int64             `json:"size"`
	Width      int               `json:"width,omitempty"`
	Height     int               `json:"height,omitempty"`
	URL        string            `json:"url"`
	Thumbnails map[string]string `json:"thumbnails,omitempty"`
}

// Views describes a file field's stored value for a reader who may view the record:
// nil, one View, or a list, with URLs that are signed unless the field is public.
func (x *Files) Views(ctx context.Context, res string, f *spec.Field, stored any) (any, error) {
	list, err := Parse(stored)
	if err != nil {
		return nil, err
	}
	views := make([]View, len(list))
	exp := x.signer.Expiry()
	for i, fl := range list {
		v := View{ID: fl.ID, Name: fl.Name, Type: fl.Type, Size: fl.Size, Width: fl.Width, Height: fl.Height}
		if v.URL, err = x.url(ctx, Key(res, f.Name, fl.ID), f, exp, fl.Name, fl.Type); err != nil {
			return nil, err
		}
		for _, t := range fl.Thumbs {
			if v.Thumbnails == nil {
				v.Thumbnails = map[string]string{}
			}
			if v.Thumbnails[t], err = x.url(ctx, ThumbKey(res, f.Name, fl.ID, t), f, exp, "", ThumbType(fl.Type)); err != nil {
				return nil, err
			}
		}
		views[i] = v
	}
	if f.File.MaxFiles > 1 {
		return views, nil
	}
	if len(views) == 0 {
		return nil, nil
	}
	return views[0], nil
}

// url is where a reader fetches key: Kiln's own /files/ path (public, or signed), or for
// a protected file in S3 a URL S3 itself checks.
func (x *Files) url(ctx context.Context, key string, f *spec.Field, exp time.Time, name, typ string) (string, error) {
	if f.File.Public {
		return x.prefix + key, nil
	}
	if p, ok := x.store.(storage.Presigner); ok {
		return p.PresignGet(ctx, key, time.Until(exp), name, typ)
	}
	return x.prefix + key + "?" + x.signer.Query(key, exp, name), nil
}

// WindowTag changes whenever the signed URLs Views makes change: answers holding them
// are cached by this tag too.
func (x *Files) WindowTag() int64 { return x.signer.Expiry().Unix() }
