package kiln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/kiln-dev/kiln/internal/service"
)

// SeedBlock is one resource's records in a seed file.
type SeedBlock struct {
	Resource string           `json:"resource"`
	Records  []map[string]any `json:"records"`
}

// SeedResult counts what a seed run did.
type SeedResult struct {
	Created, Skipped int
}

// LoadSeed reads a seed file: a JSON list of {resource, records}, numbers kept exact.
func LoadSeed(path string) ([]SeedBlock, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var blocks []SeedBlock
	if err := dec.Decode(&blocks); err != nil {
		return nil, fmt.Errorf("seed %s: %w", path, err)
	}
	return blocks, nil
}

// Seed writes the blocks through the service pipeline (so every record is validated).
// Records carry their own id; ones that exist already are skipped, so seeding twice is safe.
func (a *App) Seed(ctx context.Context, blocks []SeedBlock, progress func(resource string, done, total int)) (SeedResult, error) {
	ctx = service.AsSystem(ctx) // seed data is the operator's, not a request's
	var res SeedResult
	for _, b := range blocks {
		for i, rec := range b.Records {
			id, _ := rec["id"].(string)
			if id == "" {
				return res, fmt.Errorf("seed %s record %d: needs an id so seeding can be repeated", b.Resource, i+1)
			}
			in := make(map[string]any, len(rec))
			for k, v := range rec {
				if k != "id" {
					in[k] = v
				}
			}
			if _, _, err := a.Service.Get(ctx, b.Resource, id, nil); err == nil {
				res.Skipped++
				continue
			}
			if _, err := a.Service.Create(ctx, b.Resource, in, service.WriteOpts{ID: id}); err != nil {
				return res, fmt.Errorf("seed %s record %d: %w", b.Resource, i+1, DescribeError(err))
			}
			res.Created++
			if progress != nil {
				progress(b.Resource, i+1, len(b.Records))
			}
		}
	}
	return res, nil
}

// DescribeError folds a service error's field problems into its message, for places (the
// CLI, seeding) where no problem document reaches the user.
func DescribeError(err error) error {
	var e *service.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += fmt.Sprintf("; %s %s", f.Field, f.Message)
	}
	return errors.New(msg)
}
