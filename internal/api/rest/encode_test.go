package rest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

func shop(t testing.TB) *spec.Spec {
	s, err := spec.Load("../../../examples/shop/kiln.yaml", spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return s
}

func sampleProduct() *store.Record {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	return &store.Record{ID: "0192f0a0-0000-7000-8000-000000000001", CreatedAt: now, UpdatedAt: now, Version: 1,
		Values: []any{"Tés\"t <b>", nil, value.FromUnits(2999, 2), "SKU-1", int64(3), true, nil, []string{"0192f0a0-0000-7000-8000-000000000002"}, nil}}
}

func TestEncoderWritesValidJSONInFieldOrder(t *testing.T) {
	t.Parallel()
	s := shop(t)
	var b bytes.Buffer
	encoder{res: s.Resource("products")}.record(&b, sampleProduct(), view{spec: s})
	require.True(t, json.Valid(b.Bytes()), b.String())
	require.Equal(t, `{"id":"0192f0a0-0000-7000-8000-000000000001","created_at":"2026-01-02T03:04:05.000006Z",`+
		`"updated_at":"2026-01-02T03:04:05.000006Z","name":"Tés\"t <b>","description":null,"price":29.99,"sku":"SKU-1",`+
		`"stock":3,"active":true,"category":null,"tags":["0192f0a0-0000-7000-8000-000000000002"],"image":null}`, b.String())
}

func BenchmarkEncodeRecord(b *testing.B) {
	s := shop(b)
	enc := encoder{res: s.Resource("products")}
	rec := sampleProduct()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		enc.record(&buf, rec, view{spec: s})
	}
}

func BenchmarkEncodeRecordWithEncodingJSON(b *testing.B) {
	rec := sampleProduct()
	m := map[string]any{"id": rec.ID, "created_at": rec.CreatedAt, "updated_at": rec.UpdatedAt, "name": rec.Values[0],
		"description": nil, "price": json.Number("29.99"), "sku": "SKU-1", "stock": 3, "active": true, "category": nil, "tags": rec.Values[7]}
	for b.Loop() {
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// A list page's ETag hashes ids, versions and relation values; it allocates only its result.
func BenchmarkListTag(b *testing.B) {
	s := shop(b)
	enc := encoder{res: s.Resource("products")}
	page := &service.Page{NextCursor: "abc"}
	for range 20 {
		page.Records = append(page.Records, sampleProduct())
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = enc.listTag("limit=20", page, view{spec: s})
	}
}
