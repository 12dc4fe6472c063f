// Package files runs file fields (type: file): it receives uploads as streams, checks
// their size and sniffed type, makes image thumbnails, puts them in storage, describes them
// in the record (JSON text in the field's column), signs the URLs they are read through,
// and deletes what records no longer hold (by a job, after the write commits).
package files

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kiln-dev/kiln/internal/spec"
)

// File is one stored file as its record keeps it.
type File struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Size   int64    `json:"size"`
	Width  int      `json:"width,omitempty"`
	Height int      `json:"height,omitempty"`
	Thumbs []string `json:"thumbnails,omitempty"` // sizes made, e.g. "200x200"
}

// Key is where the file lives in storage.
func Key(resource, field, id string) string { return resource + "/" + field + "/" + id }

// ThumbKey is where one of its thumbnails lives.
func ThumbKey(resource, field, id, size string) string { return Key(resource, field, id) + "_" + size }

// Keys are the storage keys of the file and its thumbnails.
func (f File) Keys(resource, field string) []string {
	out := []string{Key(resource, field, f.ID)}
	for _, t := range f.Thumbs {
		out = append(out, ThumbKey(resource, field, f.ID, t))
	}
	return out
}

// Parse reads a file field's stored value: nil or "" (no file), one object, or a list.
func Parse(stored any) ([]File, error) {
	s, _ := stored.(string)
	if s == "" || s == "null" {
		return nil, nil
	}
	if s[0] == '[' {
		var out []File
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("files: stored value: %w", err)
		}
		return out, nil
	}
	var f File
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return nil, fmt.Errorf("files: stored value: %w", err)
	}
	return []File{f}, nil
}

// Encode is the stored value of files in a field: nil for none, one object for a field of
// one file, a list otherwise.
func Encode(field *spec.Field, files []File) (any, error) {
	var v any = files
	switch {
	case len(files) == 0:
		return nil, nil
	case field.File.MaxFiles == 1:
		v = files[0]
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Removed are the storage keys of the files in old that are not in cur.
func Removed(resource, field string, old, cur []File) []string {
	var out []string
	for _, o := range old {
		if !slices.ContainsFunc(cur, func(c File) bool { return c.ID == o.ID }) {
			out = append(out, o.Keys(resource, field)...)
		}
	}
	return out
}
