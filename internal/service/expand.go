package service

import (
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

func groupByParent(back *spec.Field, child *spec.Resource, children []*store.Record) map[string][]*store.Record {
	idx := -1
	for i, f := range child.Fields {
		if f == back {
			idx = i
		}
	}
	out := map[string][]*store.Record{}
	for _, c := range children {
		if p, ok := c.Values[idx].(string); ok {
			out[p] = append(out[p], c)
		}
	}
	return out
}
