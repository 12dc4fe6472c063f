package kiln_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/service"
)

// invoicesSpec: a date field compared with today, in a schedule's filter and in a rule.
const invoicesSpec = `resources:
  invoices:
    fields:
      due_date: {type: date, required: true}
      status: {type: enum, values: [unpaid, overdue], default: unpaid}
    rules:
      - name: not_yet_due
        on: [create]
        check: "record.due_date >= date(now, 'Pacific/Kiritimati')"
        message: "an invoice is due today or later, in the first time zone"
        code: past_due
schedules:
  - name: overdue
    cron: "0 0 * * *"
    update: {resource: invoices, filter: "status == 'unpaid' && due_date < date(now)", set: {status: "'overdue'"}}
`

// A date field is text (YYYY-MM-DD): date(now) is today's, in UTC or a named zone, for
// filters and rules. A trial compared a date with string(now), which spec validate took and
// every run of the schedule then failed on as an internal error; it is a logic failure now,
// naming the expression, and comparing a date with now says what to write instead.
func TestDatesCompareWithToday(t *testing.T) {
	t.Parallel()
	soon := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, invoicesSpec)
		past := b.do("POST", "/api/invoices", map[string]any{"due_date": "2020-01-01"})
		require.Equal(t, http.StatusBadRequest, past.status, string(past.raw))
		require.Equal(t, map[string]string{"": "past_due"}, fieldCodes(past.body))
		id := b.create("invoices", map[string]any{"due_date": soon})
		ctx := context.Background()
		rep, err := b.app.Service.ScheduledUpdate(ctx, "schedule.overdue", time.Now())
		require.NoError(t, err)
		require.Zero(t, rep.Matched, "not due yet")
		rep, err = b.app.Service.ScheduledUpdate(ctx, "schedule.overdue", time.Now().AddDate(0, 0, 3))
		require.NoError(t, err)
		require.Equal(t, 1, rep.Changed, "three days on, it is overdue")
		require.Equal(t, "overdue", b.do("GET", "/api/invoices/"+id, nil).body["status"])
	})
	b := setup(t, "sqlite", strings.Replace(invoicesSpec, "date(now)", "string(now)", 1))
	_, err := b.app.Service.ScheduledUpdate(context.Background(), "schedule.overdue", time.Now())
	require.Error(t, err)
	e := service.AsError(err)
	require.Equal(t, service.CodeLogicFailed, e.Code)
	require.Contains(t, err.Error(), `"string(now)": due_date:`)
	require.Contains(t, err.Error(), "is not a date")

	dir := t.TempDir()
	_, err = loadSpecIn(t, dir, strings.Replace(invoicesSpec, "date(now)", "now", 1))
	require.Error(t, err)
	require.Contains(t, err.Error(), "compare it with date(now)")
	_, err = loadSpecIn(t, dir, strings.Replace(invoicesSpec, "date(now)", "today", 1))
	require.ErrorContains(t, err, "undeclared reference to 'today' (the time of the write is now; the day, as a date field holds it, date(now))")
	path, err := loadSpecIn(t, dir, strings.Replace(invoicesSpec, "'Pacific/Kiritimati'", "'Mars/Olympus'", 1))
	require.Error(t, err)
	require.Contains(t, err.Error(), path+":9:16: rule not_yet_due: at 1:30: ")
	require.Contains(t, err.Error(), "date: Mars/Olympus is not a time zone")
}

// A date-time a client sends is RFC 3339, kept to the microsecond (finer digits are cut, as Go
// clients send nanoseconds); a comma before the fraction is no RFC 3339 (Go's parser took it: a
// trial).
func TestDatetimeInputIsKeptOrRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", `resources:
  slots:
    fields:
      at: {type: datetime, required: true}
    access: {list: public, view: public, create: public}
`)
	for in, msg := range map[string]string{
		"2026-12-01T10:00:00,5Z":      "must be an RFC 3339 date-time",
		"2026-12-01T10:00:00,123456Z": "must be an RFC 3339 date-time",
	} {
		res := b.do("POST", "/api/slots", map[string]any{"at": in})
		require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", in, res.raw)
		require.Equal(t, map[string]string{"at": "format"}, fieldCodes(res.body), in)
		require.Contains(t, string(res.raw), msg, in)
	}
	require.EqualValues(t, 0, b.count("slots"), "nothing written")
	res := b.do("POST", "/api/slots", map[string]any{"at": "2026-12-01T10:00:00.1234567+02:00"})
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	require.Equal(t, "2026-12-01T08:00:00.123456Z", res.body["at"])
}
