package service

import (
	"context"
	"errors"
	"strings"

	"github.com/kiln-dev/kiln/internal/expr"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// A write to a record its rule does not select answers 404, as if the record were not there,
// so that a rule hides what it keeps out of reach. A record the caller may view is no secret
// to them, though: 404 would tell a client that can read it that it is gone. Such a write is
// 403 (refusedSeen): the caller sees the record and may not change it.

// hiddenTarget is the store's not-found for the record a write names, read under the write's
// row rule: the record is not there, or the rule does not select it. It is still
// store.ErrNotFound to every check.
type hiddenTarget struct {
	r      *resource
	id     string
	action spec.Action
}

func (e *hiddenTarget) Error() string        { return e.r.Name + " record not found" }
func (e *hiddenTarget) Is(target error) bool { return target == store.ErrNotFound }

// hidden marks a not-found of the record a write read under its rule (w.cond); any other error,
// and a not-found where no rule applied (the record is not there for anyone), pass unchanged.
func (w *write) hidden(err error, id string, action spec.Action) error {
	if w.cond == nil || w.inner || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return &hiddenTarget{r: w.r, id: id, action: action}
}

// refusedSeen answers 403 for a write refused as hidden (hiddenTarget, perhaps inside a batch's
// error) when the caller may view the record after all; else err as it is. It runs after the
// write's transaction, on a failed write only.
func (s *Service) refusedSeen(ctx context.Context, err error) error {
	var h *hiddenTarget
	if !errors.As(err, &h) || !s.views(ctx, h.r, h.id) {
		return err
	}
	refused := Errorf(CodeForbidden, "%s on this %s record is not allowed", actionName(h.action), h.r.Name)
	var be *BatchError
	if errors.As(err, &be) {
		return &BatchError{Index: be.Index, Err: refused}
	}
	return refused
}

// views reports whether the request's principal may view the live record id of r.
func (s *Service) views(ctx context.Context, r *resource, id string) bool {
	cond, err := s.authorize(ctx, r, spec.ActionView)
	if err != nil {
		return false
	}
	_, err = s.store.Reader().Get(ctx, r.Name, id, cond)
	return err == nil
}

// actionName is an action as a message names it: a named action without its prefix.
func actionName(a spec.Action) string { return strings.TrimPrefix(string(a), expr.ActionPrefix) }
