package service

import (
	"context"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Hooks run Go code around writes. The kiln package adapts the hooks a Go program
// registers (public types only) to this interface.
type Hooks interface {
	// Before runs inside the write's transaction, after the spec's rules, just before the
	// row is written. It may change rec's values (they are validated again) or refuse the
	// write with an *Error carrying field errors.
	Before(ctx context.Context, resource string, op spec.Operation, rec *store.Record) error
	// After runs once the write committed; it cannot undo it.
	After(ctx context.Context, resource string, op spec.Operation, rec *store.Record)
}

func (s *Service) before(ctx context.Context, resource string, op spec.Operation, rec *store.Record) error {
	if s.hooks == nil {
		return nil
	}
	return s.hooks.Before(ctx, resource, op, rec)
}
