package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// Hooks run Go code around writes. The kiln package adapts the hooks a Go program
// registers (public types only) to this interface.
type Hooks interface {
	// Before runs inside the write's transaction, after the spec's rules, just before the
	// row is written. It may change rec's values (through SetFields, which validates them
	// like a request body) or refuse the write with an *Error carrying field errors.
	Before(ctx context.Context, resource string, op spec.Operation, rec *store.Record) error
	// After runs once the write committed; it cannot undo it.
	After(ctx context.Context, resource string, op spec.Operation, rec *store.Record)
}

// HookLister is Hooks that can say whether a before-hook is registered for a resource's
// operation; Hooks without it are taken to have one for every operation.
type HookLister interface {
	HasBefore(resource string, op spec.Operation) bool
}

// hasBefore reports whether a before-hook may run for op on resource.
func (s *Service) hasBefore(resource string, op spec.Operation) bool {
	if s.hooks == nil {
		return false
	}
	if l, ok := s.hooks.(HookLister); ok {
		return l.HasBefore(resource, op)
	}
	return true
}

func (s *Service) before(ctx context.Context, resource string, op spec.Operation, rec *store.Record) error {
	if s.hooks == nil {
		return nil
	}
	return s.hooks.Before(ctx, resource, op, rec)
}

// PublicFields are rec's values by field name in plain Go types for code outside Kiln:
// string, int64, float64, bool, time.Time, []string (to-many ids; empty, never nil, when it
// links nothing, so that it encodes as [] as a GET shows it), decimals as json.Number, nil for
// no value; hidden fields are left out.
func (s *Service) PublicFields(resource string, rec *store.Record) map[string]any {
	r := s.resources[resource]
	out := make(map[string]any, len(r.Fields))
	for i, f := range r.Fields {
		if f.Hidden || f.IsInverse() || i >= len(rec.Values) {
			continue
		}
		out[f.Name] = publicValue(rec.Values[i])
		if ids, _ := rec.Values[i].([]string); f.IsToMany() && len(ids) == 0 {
			out[f.Name] = []string{}
		}
	}
	return out
}

func publicValue(v any) any {
	switch x := v.(type) {
	case nil, string, int64, float64, bool, time.Time:
		return x
	case []string:
		return append([]string(nil), x...)
	case fmt.Stringer:
		return json.Number(x.String())
	}
	return v
}

// SetFields applies values Go code changed on rec, validated like a request body's: a bad
// value is a 400 naming the field.
func (s *Service) SetFields(resource string, rec *store.Record, changed map[string]any) error {
	r := s.resources[resource]
	in := make(map[string]any, len(changed))
	for k, v := range changed {
		in[k] = JSONForm(v)
	}
	var errs fieldErrors
	r.apply(rec, in, &errs)
	return errs.err(CodeValidation, "a hook set invalid values")
}

// JSONForm turns a Go value into what a decoded JSON body would hold.
func JSONForm(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case int:
		return json.Number(strconv.Itoa(x))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float64:
		return json.Number(strconv.FormatFloat(x, 'f', -1, 64))
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return v
}
