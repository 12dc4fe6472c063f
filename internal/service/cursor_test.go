package service

import (
	"net/url"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// FuzzCursorRoundTrip: the cursor after a record, sent back with the same sort, decodes to
// exactly that record's keyset values (typed as the store wants them) and its id, whatever
// the values: decimals keep every digit, times every microsecond, text every character,
// nulls stay null.
func FuzzCursorRoundTrip(f *testing.F) {
	f.Add(int64(2999), int64(3), true, "Boots", int64(1_800_000_000_123_456_000), "-price,stock,name,-active,created_at", false)
	f.Add(int64(-1), int64(-9223372036854775808), false, "", int64(0), "name", true)
	f.Add(int64(999999999999), int64(0), true, "ü\"\\<>&\u2028", int64(-62135596800_000_000_0), "-created_at,price", false)
	svc := newTestService(f)
	r := svc.resources["products"]
	f.Fuzz(func(t *testing.T, units, stock int64, active bool, name string, nanos int64, sort string, nulls bool) {
		if !utf8.ValidString(name) { // bodies are JSON: stored text is always UTF-8
			return
		}
		at := time.Unix(0, nanos).UTC().Truncate(time.Microsecond)
		if at.Year() < 1 || at.Year() > 9999 {
			return
		}
		price := value.FromUnits(units%1_000_000_000_000, 2) // precision 12
		rec := &store.Record{ID: "0192f0a0-0000-7000-8000-0000000000aa", CreatedAt: at,
			Values: []any{name, nil, price, nil, stock, active, nil, []string{}}}
		if nulls {
			rec.Values = []any{name, nil, nil, nil, nil, nil, nil, []string{}}
		}
		p, err := svc.ParseList("products", url.Values{"sort": {sort}})
		if err != nil {
			return // not a sort the API accepts
		}
		cursor := p.cursorAfter(r, rec)
		back, err := svc.ParseList("products", url.Values{"sort": {sort}, "cursor": {cursor}})
		if err != nil {
			t.Fatalf("sort %q: the API refused its own cursor %q: %v", sort, cursor, err)
		}
		want := make([]any, 0, len(p.Query.Sort)+1)
		for _, s := range p.Query.Sort {
			want = append(want, rec.Field(r.Resource, s.Field))
		}
		want = append(want, rec.ID)
		if !reflect.DeepEqual(want, back.Query.After) {
			t.Fatalf("sort %q: cursor %q decoded to %#v, want %#v", sort, cursor, back.Query.After, want)
		}
	})
}
