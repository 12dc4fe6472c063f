package files

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// DeleteKind is the job that deletes stored files no record holds any more.
const DeleteKind = "kiln.files.delete"

// DeleteTimeout bounds one deletion job (up to a thousand keys per S3 request).
const DeleteTimeout = 2 * time.Minute

// Stager records jobs in a write's transaction (jobs.Queue).
type Stager interface {
	StageTx(ctx context.Context, tx *store.Exec, rs []jobs.Request) error
}

// deleteArgs are a DeleteKind job's args.
type deleteArgs struct {
	Keys []string `json:"keys"`
}

// RemovedTx stages the deletion of the files the write took out of the record (old →
// rec; rec nil for a deleted record) — service.FileKeeper.
func (x *Files) RemovedTx(ctx context.Context, tx *store.Exec, res *spec.Resource, old, rec *store.Record) error {
	var keys []string
	for i, f := range res.Fields {
		if f.Type != spec.TypeFile || i >= len(old.Values) || old.Values[i] == nil {
			continue
		}
		before, err := Parse(old.Values[i])
		if err != nil {
			return err
		}
		var after []File
		if rec != nil {
			if after, err = Parse(rec.Values[i]); err != nil {
				return err
			}
		}
		keys = append(keys, Removed(res.Name, f.Name, before, after)...)
	}
	if len(keys) == 0 {
		return nil
	}
	if x.stager == nil {
		return fmt.Errorf("files: no job queue to delete %d stored files", len(keys))
	}
	return x.stager.StageTx(ctx, tx, []jobs.Request{{Kind: DeleteKind, Args: deleteArgs{Keys: keys}, MaxAttempts: 25}})
}

// Delete runs a DeleteKind job: retried (storage may be down) until the files go.
func (x *Files) Delete(ctx context.Context, j *jobs.Job) error {
	var args deleteArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return jobs.Permanent(fmt.Errorf("a file deletion job without keys: %w", err))
	}
	return x.store.Delete(ctx, args.Keys)
}
