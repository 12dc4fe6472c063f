package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

const visitsSpec = "name: visits\n" + adminUsers + `  visits:
    fields:
      title: {type: string, required: true}
      day: {type: date}
      at: {type: datetime}
    access: {list: public, view: public, create: [member, admin], update: [member, admin], delete: [admin]}
`

// Dates and date-times are taken in the years 1 to 9999 (UTC) on both dialects: PostgreSQL
// has no year 0 and answered a write of one with a 400 naming no field (SQLite stored it), a
// filter on one with validation_failed. Now either is refused before the database, alike,
// naming the field or the parameter, and nothing is written.
func TestYearsOutsideOneTo9999AreRefusedAlike(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, visitsSpec)
		tok := bearer(b.token("member"))
		ok := b.do("POST", "/api/visits", map[string]any{"title": "edge", "day": "0001-01-01", "at": "9999-12-31T23:59:59Z"}, tok...)
		require.Equal(t, http.StatusCreated, ok.status, string(ok.raw))
		id := ok.body["id"].(string)
		for _, body := range []map[string]any{
			{"title": "x", "day": "0000-01-01"},
			{"title": "x", "at": "0000-06-01T10:00:00Z"},
			{"title": "x", "at": "0001-01-01T00:30:00+01:00"}, // 0000-12-31 in UTC
			{"title": "x", "at": "9999-12-31T23:00:00-05:00"}, // 10000-01-01 in UTC
		} {
			for _, w := range []struct{ method, path string }{{"POST", "/api/visits"}, {"PATCH", "/api/visits/" + id}} {
				res := b.do(w.method, w.path, body, tok...)
				require.Equal(t, http.StatusBadRequest, res.status, "%s %v: %s", w.method, body, res.raw)
				require.Equal(t, "validation_failed", res.body["error"], string(res.raw))
				field := "day"
				if _, ok := body["at"]; ok {
					field = "at"
				}
				require.Equal(t, map[string]string{field: "format"}, fieldCodes(res.body), string(res.raw))
			}
		}
		require.EqualValues(t, 1, b.count("visits"), "nothing was written")
		got := b.do("GET", "/api/visits/"+id, nil, tok...)
		require.Equal(t, "0001-01-01", got.body["day"], string(got.raw))

		for path, param := range map[string]string{
			"/api/visits?day=0000-01-01":                                                "day",
			"/api/visits?filter=" + urlEncode(`day == "0000-01-01"`):                    "filter",
			"/api/visits?filter=" + urlEncode(`day in ["2026-01-01", "0000-01-01"]`):    "filter",
			"/api/visits?filter=" + urlEncode(`at > timestamp("0000-01-01T00:00:00Z")`): "filter",
			"/api/visits?at=0000-01-01T00:00:00Z":                                       "at",
		} {
			res := b.do("GET", path, nil, tok...)
			require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", path, res.raw)
			require.Equal(t, "malformed_request", res.body["error"], "%s: %s", path, res.raw)
			require.Contains(t, fieldCodes(res.body), param, "%s: %s", path, res.raw)
		}
		res := b.do("GET", "/api/visits?filter="+urlEncode(`day == "0001-01-01"`), nil, tok...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Len(t, res.body["items"], 1, string(res.raw))
	})
}

const computedDaysSpec = "name: computed_days\n" + adminUsers + `  visits:
    fields:
      label: {type: string, required: true}
      shift: {type: integer, default: 0}
      day: {type: date, compute: "record.label"}
      at: {type: datetime, compute: "timestamp('0001-01-01T00:00:00Z') + duration(string(record.shift) + 's')"}
    access: {list: public, view: public, create: [member, admin], update: [member, admin], delete: [admin]}
`

// A computed date is checked as a sent one: a computation that yields text that is no date
// ("2026-13-45", year 0) is a 400 naming the field (code compute) on both dialects — SQLite
// stored it, PostgreSQL answered a 400 naming no field — and a computed date-time outside the
// years 1 to 9999 too. Nothing is written.
func TestComputedDatesAreCheckedAlike(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, computedDaysSpec)
		tok := bearer(b.token("member"))
		ok := b.do("POST", "/api/visits", map[string]any{"label": "2026-02-28", "shift": 60}, tok...)
		require.Equal(t, http.StatusCreated, ok.status, string(ok.raw))
		require.Equal(t, "2026-02-28", ok.body["day"], string(ok.raw))
		require.Equal(t, "0001-01-01T00:01:00.000000Z", ok.body["at"], string(ok.raw))
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"label": "2026-13-45"}, "day"},
			{map[string]any{"label": "0000-01-01"}, "day"},
			{map[string]any{"label": "soon"}, "day"},
			{map[string]any{"label": "2026-01-01", "shift": -1}, "at"},
		} {
			res := b.do("POST", "/api/visits", tc.body, tok...)
			require.Equal(t, http.StatusBadRequest, res.status, "%v: %s", tc.body, res.raw)
			require.Equal(t, "validation_failed", res.body["error"], string(res.raw))
			require.Equal(t, map[string]string{tc.field: "compute"}, fieldCodes(res.body), string(res.raw))
		}
		require.EqualValues(t, 1, b.count("visits"), "nothing was written")
	})
}
