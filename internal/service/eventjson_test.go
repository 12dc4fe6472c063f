package service

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// eventTestResource has a field of every shape the encoder treats apart: a hidden one, an
// inverse relation, and a field named like a system field.
func eventTestResource() *resource {
	r := &spec.Resource{Name: "things", Fields: []*spec.Field{
		{Name: "title"}, {Name: "secret", Hidden: true}, {Name: "Zed"}, {Name: "amount"}, {Name: "at"},
		{Name: "children", Relation: &spec.Relation{Kind: spec.RelInverse}}, {Name: "version"}, {Name: "tags"},
		{Name: "a_b"}, {Name: "ratio"}, {Name: "doc"},
	}}
	return &resource{Resource: r, eventKeys: eventKeys(r)}
}

// mapJSON is what recordJSON wrote before eventJSON: json.Marshal of the map.
func mapJSON(r *resource, rec *store.Record) ([]byte, error) {
	m := r.s().PublicFields(r.Name, rec)
	m["id"], m["created_at"], m["updated_at"], m["version"] = rec.ID, rec.CreatedAt, rec.UpdatedAt, rec.Version
	return json.Marshal(m)
}

func eventRecord(title string, vals ...any) *store.Record {
	at := time.Date(2026, 12, 3, 10, 4, 5, 123456000, time.UTC)
	rec := &store.Record{ID: "0193-" + title, CreatedAt: at, UpdatedAt: at.Add(time.Second), Version: 7,
		Values: []any{title, "hidden", int64(-3), value.FromUnits(1234, 2), at, nil, "mine", []string{"a", "<b>"}, true, 0.1, json.RawMessage(`{"k": [1, 2]}`)}}
	copy(rec.Values[1:], vals)
	return rec
}

// Every record encodes to the very bytes json.Marshal gives its map.
func TestEventJSONIsTheMapsJSON(t *testing.T) {
	r := eventTestResource()
	nyc := time.FixedZone("X", -5*3600)
	for name, rec := range map[string]*store.Record{
		"plain":        eventRecord("lamp"),
		"escapes":      eventRecord("a<b>&\"c\"\\\n\t\b\f\x01\x7f é \u2028 \u2029 \xff end"),
		"nil values":   eventRecord("n", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
		"zoned time":   eventRecord("z", "h", int64(math.MaxInt64), value.FromUnits(-5, 3), time.Date(2026, 1, 2, 3, 4, 5, 0, nyc)),
		"zero time":    eventRecord("zero", "h", int64(0), value.FromUnits(0, 0), time.Time{}),
		"decimal":      eventRecord("d", "h", int64(1), value.FromUnits(-100, 2)),
		"floats":       eventRecord("f", "h", int64(1), value.FromUnits(1, 0), time.Unix(0, 1).UTC(), nil, "v", []string{}, false, 1e21),
		"short values": {ID: "s", CreatedAt: time.Unix(5, 0).UTC(), UpdatedAt: time.Unix(6, 0).UTC(), Values: []any{"t"}},
	} {
		want, wantErr := mapJSON(r, rec)
		got, err := r.s().recordJSON(r, rec)
		require.Equal(t, wantErr == nil, err == nil, name)
		require.Equal(t, string(want), string(got), name)
	}
	for _, c := range []string{"<", ">", "&", "\"", "\\", "\x7f", "\x00", "\x1f", "é", "\u2028", "\xff"} {
		rec := eventRecord("x" + c + "y")
		want, _ := mapJSON(r, rec)
		got, err := r.s().recordJSON(r, rec)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%q alone", c)
	}
	far := eventRecord("far", "h", int64(1), value.FromUnits(1, 0), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err := (&Service{}).recordJSON(r, far)
	require.Error(t, err, "a year past 9999 is an error, as in json.Marshal")
	_, err = (&Service{}).recordJSON(r, eventRecord("nan", "h", int64(1), value.FromUnits(1, 0), time.Now().UTC(), nil, "v", nil, true, math.NaN()))
	require.Error(t, err)
}

func (r *resource) s() *Service { return &Service{resources: map[string]*resource{r.Name: r}} }

func FuzzEventJSON(f *testing.F) {
	f.Add("lamp", int64(3), int64(1234), 2, int64(0), "x", 0.5)
	f.Add("<&>\u2028\xff", int64(-1), int64(-5), 0, int64(1e18), "\x00", 1e-7)
	r := eventTestResource()
	f.Fuzz(func(t *testing.T, s string, n, units int64, scale int, nanos int64, tag string, fl float64) {
		if scale < 0 || scale > 18 {
			scale = 2
		}
		at := time.Unix(0, nanos).UTC()
		rec := eventRecord(s, tag, n, value.FromUnits(units, scale), at, nil, s, []string{tag, s}, n%2 == 0, fl)
		rec.ID = tag
		want, wantErr := mapJSON(r, rec)
		got, err := r.s().recordJSON(r, rec)
		if (wantErr == nil) != (err == nil) || string(want) != string(got) {
			t.Fatalf("map: %s (%v)\nevent: %s (%v)", want, wantErr, got, err)
		}
	})
}

// A resource's event buffers start as large as the largest record written so far (at most
// maxEventSize), and records shorter or longer than that still encode to the map's bytes.
func TestEventJSONBufferFollowsTheLargestRecord(t *testing.T) {
	r := eventTestResource()
	require.Zero(t, r.eventSize.get())
	write := func(n int) int {
		t.Helper()
		rec := eventRecord(strings.Repeat("a<", n))
		want, err := mapJSON(r, rec)
		require.NoError(t, err)
		got, err := r.s().recordJSON(r, rec)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "a name of %d characters", 2*n)
		return len(got)
	}
	longest := 0
	for _, n := range []int{10, 100, 500} { // growing: the size is the largest record's
		longest = write(n)
		require.Equal(t, longest, r.eventSize.get(), "after a name of %d characters", 2*n)
	}
	write(20000) // longer than maxEventSize: no buffer starts that large
	require.Equal(t, longest, r.eventSize.get(), "a record over the bound changes nothing")
	write(300) // more than half: kept
	require.Equal(t, longest, r.eventSize.get())
	b, ok, err := eventJSON(r.eventKeys, eventRecord("x"), r.eventSize.get())
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, longest, cap(b), "the next buffer starts at the size kept")
	short := 0
	for range 60 { // short records after it: the long one is forgotten
		short = write(5)
		require.GreaterOrEqual(t, r.eventSize.get(), short, "never below the record just written")
	}
	require.Less(t, r.eventSize.get(), 2*short, "sixty short records later")
	require.Equal(t, longest, write(500), "and a long one is kept again at once")
	require.Equal(t, longest, r.eventSize.get())
}
