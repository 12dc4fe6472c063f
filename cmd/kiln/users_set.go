package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/strictjson"
)

// accountFlags are the account fields with their own flag of `kiln users create`; --set
// refuses them so that one value has one source — but for name, which may be set either way
// (not both: the command refuses that).
var accountFlags = map[string]string{
	spec.FieldEmail: "--email", spec.FieldRole: "--role", "name": "--name", spec.FieldPassword: "--password-stdin",
}

// parseSets turns repeated --set field=value into the values an API body would carry: the
// value is read by the field's type (numbers and booleans as JSON, lists of ids
// comma-separated, JSON fields as JSON, the rest as text). The service then validates them
// exactly as it validates an API create.
func parseSets(r *spec.Resource, sets []string) (map[string]any, error) {
	out := make(map[string]any, len(sets))
	for _, s := range sets {
		name, raw, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--set %q: write it as field=value", s)
		}
		if flag, own := accountFlags[name]; own && name != "name" {
			return nil, fmt.Errorf("--set %s: give %s with %s", name, name, flag)
		}
		f := r.Field(name)
		if f == nil || f.System || f.Derived() || f.IsInverse() {
			return nil, fmt.Errorf("--set %s: %s has no field %s that can be set (see its fields in the spec)", name, r.Name, name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--set %s: given twice", name)
		}
		v, err := setValue(f, raw)
		if err != nil {
			return nil, fmt.Errorf("--set %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// setValue reads one --set value by the field's type.
func setValue(f *spec.Field, raw string) (any, error) {
	switch {
	case f.IsToMany():
		ids := []any{}
		for id := range strings.SplitSeq(raw, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		return ids, nil
	case f.Type == spec.TypeJSON:
		v, err := strictjson.Decode([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("%s is a json field: %w", f.Name, err)
		}
		return v, nil
	case f.Type == spec.TypeInteger, f.Type == spec.TypeNumber, f.Type == spec.TypeDecimal, f.Type == spec.TypeBoolean:
		if v, err := strictjson.Decode([]byte(raw)); err == nil {
			return v, nil
		}
		return raw, nil // the service answers "must be a number" like the API would
	}
	return raw, nil
}

// describeAccountErr shows the service's field problems and, for a missing field, the flag
// that sets it.
func describeAccountErr(err error) error {
	var e *service.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += fmt.Sprintf("; %s %s", f.Field, f.Message)
		if f.Code != "required" {
			continue
		}
		if flag, own := accountFlags[f.Field]; own {
			msg += " (give it with " + flag + ")"
		} else {
			msg += fmt.Sprintf(" (give it with --set %s=…)", f.Field)
		}
	}
	return errors.New(msg)
}
