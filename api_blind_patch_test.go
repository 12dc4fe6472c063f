package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/store"
)

// clinicSpec: a clinic's appointments, with a field of every kind a blind update renders.
const clinicSpec = `name: clinic
resources:
  clinicians:
    fields:
      name: {type: string, required: true}
  treatments:
    fields:
      name: {type: string, required: true}
  appointments:
    fields:
      patient: {type: string, required: true, max_length: 200}
      notes: text
      fee: {type: decimal, precision: 14, scale: 2}
      units: {type: decimal, precision: 14, scale: 0}
      visits: integer
      confirmed: boolean
      starts_at: datetime
      born_on: date
      kind: {type: enum, values: [checkup, surgery, follow_up]}
      intake: json
      ref: uuid
      contact: email
      site: url
      clinician: {type: relation, to: clinicians}
      treatments: {type: relation, to: treatments, many: true}
      pin: {type: string, hidden: true}
  readings:
    fields:
      appointment: {type: relation, to: appointments}
      weight: number
`

// On PostgreSQL a PATCH that needs nothing of the stored record is one statement, and
// PostgreSQL renders its event's records. They must be the bytes Kiln's encoder writes: every
// event's record before is the previous event's record after, and the writes alternate
// between the two renderers (a PATCH with If-Match reads the record first, and Go renders),
// over random values of every kind of field.
func TestBlindPatchesRenderEventsAsKilnDoes(t *testing.T) {
	t.Parallel()
	b := setup(t, "postgres", clinicSpec)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	doctor := b.create("clinicians", map[string]any{"name": "Dr <Who> & co"})
	t1 := b.create("treatments", map[string]any{"name": "x-ray"})
	t2 := b.create("treatments", map[string]any{"name": "cast"})
	mark := b.lastEvent()
	id := b.create("appointments", map[string]any{"patient": "first", "clinician": doctor, "treatments": []string{t2, t1}, "pin": "1234"})
	etag := `"1"`
	blindWrites := make([]bool, 1, 121)
	for i := range 120 {
		in := randomAppointment(rng, i)
		blind := i%2 == 0
		var headers []string
		if !blind {
			headers = []string{"If-Match", etag}
		}
		before := b.app.Store.Blind()
		res := b.do("PATCH", "/api/appointments/"+id, in, headers...)
		require.Equal(t, http.StatusOK, res.status, "%v: %s", in, res.raw)
		wrote := b.app.Store.Blind() - before
		require.Equal(t, map[bool]int64{true: 1, false: 0}[blind], wrote, "blind: %v", blind)
		etag = res.header.Get("ETag")
		blindWrites = append(blindWrites, blind)
	}
	evs := b.eventsAfter(mark)
	require.Len(t, evs, 121)
	for i := 1; i < len(evs); i++ {
		prev, cur := evs[i-1].New, evs[i].Old
		if blindWrites[i-1] || i == 1 { // PostgreSQL's record after, or the create's, read back by Go
			require.Equal(t, string(prev), string(cur), "event %d", i)
			continue
		}
		// Go's record after holds a json field as sent; read back, it is PostgreSQL's layout.
		prevRest, prevJSON := cutKey(t, prev, "intake")
		curRest, curJSON := cutKey(t, cur, "intake")
		require.Equal(t, string(prevRest), string(curRest), "event %d", i)
		require.JSONEq(t, jsonOf(t, prevJSON), jsonOf(t, curJSON), "event %d", i)
	}
	last := values(t, evs[len(evs)-1].New)
	got := b.do("GET", "/api/appointments/"+id, nil)
	for k, v := range got.body {
		if k != "intake" {
			require.True(t, sameShown(v, last[k]), "%s: %v and %v", k, v, last[k])
		}
	}
	require.NotContains(t, string(evs[len(evs)-1].New), "pin", "a hidden field stays out")

	// A value only PostgreSQL refuses (jsonb's numbers end at 1e131072): a missing record is
	// still 404 first, as when the record is read first.
	huge := map[string]any{"intake": json.RawMessage(`{"n": 1e200000}`)}
	res := b.do("PATCH", "/api/appointments/"+uuid.NewString(), huge)
	require.Equal(t, http.StatusNotFound, res.status, string(res.raw))
	res = b.do("PATCH", "/api/appointments/"+id, huge)
	require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))

	// A number: PostgreSQL's shortest text of a double is not always Go's, so its records are
	// read first and Go renders them.
	r := b.create("readings", map[string]any{"weight": 1.5})
	before := b.app.Store.Blind()
	res = b.do("PATCH", "/api/readings/"+r, map[string]any{"weight": 5.9233969476980976e+16})
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, before, b.app.Store.Blind())
	evs = b.eventsAfter(evs[len(evs)-1].ID)
	require.Contains(t, string(evs[len(evs)-1].New), `"weight":59233969476980980`)
}

// randomAppointment is a PATCH of some of an appointment's fields to random values (visits
// always, so that every one changes the record).
func randomAppointment(rng *rand.Rand, i int) map[string]any {
	in := map[string]any{"visits": int64(i) - rng.Int64N(1<<62)}
	gen := map[string]func() any{
		"patient": func() any { return "p" + randomText(rng) },
		"notes":   func() any { return randomText(rng) },
		"fee":     func() any { return json.Number(fmt.Sprintf("%d.%02d", rng.IntN(2_000_000)-1_000_000, rng.IntN(100))) },
		"units":   func() any { return json.Number(fmt.Sprint(rng.IntN(2_000_000) - 1_000_000)) },
		"confirmed": func() any {
			return rng.IntN(2) == 0
		},
		"starts_at": func() any {
			at := time.Date(1000+rng.IntN(9000), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
			digits := rng.IntN(7)
			frac := rng.IntN(int(math.Pow10(digits)))
			return at.Add(time.Duration(frac) * time.Duration(math.Pow10(9-digits))).Format(time.RFC3339Nano)
		},
		"born_on": func() any { return fmt.Sprintf("%04d-%02d-%02d", 1000+rng.IntN(9000), 1+rng.IntN(12), 1+rng.IntN(28)) },
		"kind":    func() any { return []string{"checkup", "surgery", "follow_up"}[rng.IntN(3)] },
		"intake": func() any {
			return map[string]any{"note": randomText(rng), "n": randomFloat(rng), "list": []any{true, nil, "a&b"}}
		},
		"ref":     func() any { return uuid.NewString() },
		"contact": func() any { return fmt.Sprintf("p%d@clinic.example", rng.IntN(1000)) },
		"site":    func() any { return fmt.Sprintf("https://clinic.example/p?a=%d&b=%s", rng.IntN(100), "x") },
		"pin":     func() any { return fmt.Sprint(rng.IntN(10000)) },
	}
	for name, g := range gen {
		switch rng.IntN(3) {
		case 0:
			in[name] = g()
		case 1:
			if name != "patient" && rng.IntN(4) == 0 {
				in[name] = nil
			}
		}
	}
	return in
}

// randomText draws from characters that JSON encoders escape differently.
func randomText(rng *rand.Rand) string {
	chars := []string{"a", "Z", "0", " ", "<", ">", "&", `"`, `\`, "/", "\n", "\t", "\r", "\b", "\f", "\x01", "\x1f", "\x7f",
		"\u2028", "\u2029", "é", "€", "😀", "'", "%", "?"}
	var b strings.Builder
	for range rng.IntN(24) {
		b.WriteString(chars[rng.IntN(len(chars))])
	}
	return b.String()
}

// randomFloat draws doubles around the points where encoding/json changes its notation.
func randomFloat(rng *rand.Rand) float64 {
	fixed := []float64{0, 0.1 + 0.2, 1e-7, 1.5e-7, 1e-6, 9.999999e-7, 1e20, 1e21, 123456789012345680000, 1e300, -2.5e-10, 5e-324, 1.7976931348623157e308}
	if rng.IntN(3) == 0 {
		return fixed[rng.IntN(len(fixed))]
	}
	v := rng.Float64() * math.Pow10(rng.IntN(50)-25)
	if rng.IntN(2) == 0 {
		v = -v
	}
	return v
}

// cutKey splits an event record into its text without key's value, and that value.
func cutKey(t *testing.T, raw []byte, key string) ([]byte, json.RawMessage) {
	t.Helper()
	name := []byte(`"` + key + `":`)
	at := bytes.Index(raw, name)
	require.GreaterOrEqual(t, at, 0, string(raw))
	start := at + len(name)
	dec := json.NewDecoder(bytes.NewReader(raw[start:]))
	var v json.RawMessage
	require.NoError(t, dec.Decode(&v))
	end := start + int(dec.InputOffset())
	return append(append([]byte(nil), raw[:start]...), raw[end:]...), v
}

// jsonOf is the JSON a json field's event value holds (a string of JSON text, or null).
func jsonOf(t *testing.T, v json.RawMessage) string {
	t.Helper()
	var s *string
	require.NoError(t, json.Unmarshal(v, &s))
	if s == nil {
		return "null"
	}
	return *s
}

// sameShown reports whether an answer's value and an event's are the same value: answers
// write times with six fractional digits and numbers as JSON numbers.
func sameShown(a, b any) bool {
	x, y := fmt.Sprint(a), fmt.Sprint(b)
	if x == y {
		return true
	}
	if s, ok := a.(string); ok {
		t1, err1 := time.Parse(time.RFC3339Nano, s)
		t2, err2 := time.Parse(time.RFC3339Nano, y)
		return err1 == nil && err2 == nil && t1.Equal(t2)
	}
	f1, err1 := strconv.ParseFloat(x, 64)
	f2, err2 := strconv.ParseFloat(y, 64)
	return err1 == nil && err2 == nil && f1 == f2
}

// A blind PATCH that writes nothing leaves the answer to the read-first way: a missing or
// deleted record is 404, a PATCH of the values stored changes nothing (no version, no
// event), a unique clash is 409 naming the field, a bad value 400. Concurrent PATCHes of one
// record each lock it in turn: every one is applied, each event's record before (its links
// too) is the one the previous write left, and updated_at only moves forward.
func TestBlindPatchesAnswerAsTheReadFirstWay(t *testing.T) {
	t.Parallel()
	b := setup(t, "postgres", "")
	p := b.create("products", map[string]any{"name": "Mug", "price": 5, "stock": 5, "sku": "MUG-1"})
	b.create("products", map[string]any{"name": "Cup", "price": 5, "sku": "CUP-1"})
	blind := func(want int64, method, path string, body any, status int) response {
		t.Helper()
		before := b.app.Store.Blind()
		res := b.do(method, path, body)
		require.Equal(t, status, res.status, string(res.raw))
		require.Equal(t, want, b.app.Store.Blind()-before, "blind writes")
		return res
	}
	blind(0, "PATCH", "/api/products/"+uuid.NewString(), map[string]any{"price": 7}, http.StatusNotFound)
	mark := b.lastEvent()
	res := blind(0, "PATCH", "/api/products/"+p, map[string]any{"price": 5, "stock": 5}, http.StatusOK)
	require.Equal(t, `"1"`, res.header.Get("ETag"))
	require.Empty(t, b.eventsAfter(mark), "nothing changed")
	res = blind(0, "PATCH", "/api/products/"+p, map[string]any{"sku": "CUP-1"}, http.StatusConflict)
	require.Equal(t, map[string]string{"sku": "unique"}, fieldCodes(res.body))
	blind(0, "PATCH", "/api/products/"+p, map[string]any{"price": -1}, http.StatusBadRequest)
	blind(0, "PATCH", "/api/products/"+p, map[string]any{"name": nil}, http.StatusBadRequest)
	res = blind(1, "PATCH", "/api/products/"+p, map[string]any{"price": "6.50"}, http.StatusOK)
	require.Equal(t, `"2"`, res.header.Get("ETag"))
	require.Equal(t, json.Number("6.5"), res.body["price"])
	require.Equal(t, json.Number("5"), res.body["stock"], "the fields not sent are the stored ones")

	// Writers of its links (never blind) and of its fields (blind unless the record was written
	// while they waited for it: its links as read could be older than its row).
	tags := []string{b.create("tags", map[string]any{"name": "red"}), b.create("tags", map[string]any{"name": "blue"})}
	const writers, each = 8, 25
	mark, blindBefore := b.lastEvent(), b.app.Store.Blind()
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				body := map[string]any{"stock": w*1000 + i, "price": fmt.Sprintf("%d.%02d", w, i)}
				if w%3 == 0 {
					body = map[string]any{"tags": [][]string{{}, tags, {tags[1], tags[0]}, {tags[1]}}[i%4]}
				}
				r := b.do("PATCH", "/api/products/"+p, body)
				if r.status != http.StatusOK {
					done <- fmt.Errorf("%d: %s", r.status, r.raw)
					return
				}
			}
			done <- nil
		}()
	}
	for range writers {
		require.NoError(t, <-done)
	}
	require.Positive(t, b.app.Store.Blind()-blindBefore, "written blind")
	got := b.do("GET", "/api/products/"+p, nil)
	evs := b.eventsAfter(mark)
	// Every PATCH of stock changes it; one of links may set those it holds (no event).
	require.GreaterOrEqual(t, len(evs), 5*each)
	require.LessOrEqual(t, len(evs), writers*each)
	prev := values(t, evs[0].Old)
	require.Equal(t, json.Number("2"), prev["version"])
	for i, ev := range evs {
		old, cur := values(t, ev.Old), values(t, ev.New)
		require.Equal(t, prev, old, "event %d's record before is the previous one's after", i)
		require.Equal(t, json.Number(fmt.Sprint(3+i)), cur["version"])
		was, _ := time.Parse(time.RFC3339Nano, prev["updated_at"].(string))
		now, _ := time.Parse(time.RFC3339Nano, cur["updated_at"].(string))
		require.True(t, now.After(was), "event %d: updated_at %v follows %v", i, now, was)
		prev = cur
	}
	require.Equal(t, fmt.Sprintf(`"%v"`, prev["version"]), got.header.Get("ETag"))
	require.Equal(t, prev["stock"], got.body["stock"])
	require.Equal(t, fmt.Sprint(prev["tags"]), fmt.Sprint(got.body["tags"]))

	// A blind PATCH takes the lock an update takes: a transaction that checked a foreign key
	// to the record (FOR KEY SHARE) does not hold it up.
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
			if err := tx.ExecRaw(context.Background(), "SELECT 1 FROM products WHERE id = ? FOR KEY SHARE", p); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	var once sync.Once
	defer once.Do(func() { close(release) })
	patched := make(chan response, 1)
	go func() { patched <- b.do("PATCH", "/api/products/"+p, map[string]any{"stock": 1}) }()
	select {
	case res := <-patched:
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
	case <-time.After(5 * time.Second):
		t.Fatal("the PATCH waited for a FOR KEY SHARE lock")
	}
	once.Do(func() { close(release) })

	// A version stamped by a clock ahead of this one (another instance's): the next, blind or
	// read first, is stamped a microsecond after it.
	ahead := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
	require.NoError(t, b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
		return tx.ExecRaw(context.Background(), "UPDATE products SET updated_at = ? WHERE id = ?", ahead, p)
	}))
	res = b.do("PATCH", "/api/products/"+p, map[string]any{"stock": 2}, "If-Match", b.etag("/api/products/"+p))
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Equal(t, ahead.Add(time.Microsecond).Format(time.RFC3339Nano), stamp(t, res.body["updated_at"]), "read first")
	res = blind(1, "PATCH", "/api/products/"+p, map[string]any{"stock": 3}, http.StatusOK)
	require.Equal(t, ahead.Add(2*time.Microsecond).Format(time.RFC3339Nano), stamp(t, res.body["updated_at"]), "blind")

	// Deleted: 404, and nothing of the PATCH is written.
	blind(0, "DELETE", "/api/products/"+p, nil, http.StatusNoContent)
	blind(0, "PATCH", "/api/products/"+p, map[string]any{"price": 7}, http.StatusNotFound)
}

// stamp is an answer's time in time.RFC3339Nano (answers write six fractional digits).
func stamp(t *testing.T, v any) string {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, v.(string))
	require.NoError(t, err)
	return at.UTC().Format(time.RFC3339Nano)
}
