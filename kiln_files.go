package kiln

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/kiln-dev/kiln/internal/files"
	"github.com/kiln-dev/kiln/internal/integrations/storage"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
)

// newFiles builds the file fields' storage and Files, when the spec has file fields.
// signKey signs protected files' URLs (nil without auth, where every file is public).
func (a *App) newFiles(cfg Config, signKey []byte) error {
	if !a.Spec.HasFiles() {
		return nil
	}
	st, err := newStorage(cfg, a.Spec.Storage)
	if err != nil {
		return err
	}
	publicURL := ""
	if a.Spec.Auth != nil {
		publicURL = a.Spec.Auth.PublicURL
	}
	a.files, err = files.New(files.Config{Spec: a.Spec, Store: st, Jobs: a.Jobs, TempDir: filepath.Join(cfg.DataDir, "uploads"),
		SignKey: signKey, PublicURL: publicURL, NewID: uuid.NewString, Logger: cfg.Logger})
	return err
}

// newStorage opens the store the spec names; S3 credentials come from the environment.
func newStorage(cfg Config, s spec.Storage) (storage.Store, error) {
	if s.Provider != spec.StorageS3Name {
		dir := s.Dir
		if dir == "" {
			dir = filepath.Join(cfg.DataDir, "files")
		}
		return storage.NewLocal(dir)
	}
	env := func(k string) string { v, _ := cfg.LookupEnv(k); return v }
	return storage.NewS3(storage.S3Config{Bucket: s.S3.Bucket, Region: s.S3.Region, Endpoint: s.S3.Endpoint, PathStyle: s.S3.PathStyle,
		AccessKey: env("AWS_ACCESS_KEY_ID"), SecretKey: env("AWS_SECRET_ACCESS_KEY"), SessionToken: env("AWS_SESSION_TOKEN")})
}

// filesJobKind deletes the stored files records no longer hold.
func (a *App) filesJobKind() jobs.Kind {
	return jobs.Kind{Name: files.DeleteKind, Timeout: a.builtinTimeout(files.DeleteTimeout), Handle: func(ctx context.Context, j *jobs.Job) error {
		if a.files == nil {
			return jobs.Permanent(fmt.Errorf("this process has no file storage"))
		}
		return a.files.Delete(ctx, j)
	}}
}

// checkStorage tells, at start, whether an S3 bucket is reachable: uploads fail until it is.
func (a *App) checkStorage(ctx context.Context) {
	if a.files == nil {
		return
	}
	if c, ok := a.files.Store().(interface{ Check(context.Context) error }); ok {
		if err := c.Check(ctx); err != nil {
			a.log.Warn("file storage is not reachable: uploads will fail until it is", "error", err.Error())
		}
	}
}
