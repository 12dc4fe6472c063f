package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/store"
)

// shopEverySecond is the shop with its stale-order schedule ticking every second and a
// pending order counting as stale after two seconds.
func shopEverySecond(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	src := strings.Replace(string(raw), `cron: "*/10 * * * *"`, `cron: "* * * * * *"`, 1)
	src = strings.Replace(src, "${KILN_SHOP_PENDING_MAX_AGE:-24h}", "2s", 1)
	require.NotEqual(t, string(raw), src)
	return src
}

func scheduleJobs(t *testing.T, b *testBundle, kind string) []*jobs.Job {
	t.Helper()
	list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: kind, Limit: 500})
	require.NoError(t, err)
	return list
}

// The shop's cancel_stale_orders schedule cancels pending orders older than the configured
// age through the cancel action — their stock comes back, an event is written — and leaves
// paid and young orders alone; every run is one job per tick, ticks on whole seconds.
func TestScheduleCancelsStaleOrdersThroughTheAction(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, shopEverySecond(t))
		p := b.product("Teapot", "12", 10)
		tok := bearer(b.tokenFor(b.account("customer")))
		place := func() string {
			res := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 2)}}, tok...)
			require.Equal(t, http.StatusCreated, res.status, string(res.raw))
			return res.body["id"].(string)
		}
		stale, paid := place(), place()
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/orders/"+paid, map[string]any{"status": "paid"}).status)
		mark := b.lastEvent()
		require.NoError(t, b.app.Jobs.Start(context.Background()))
		t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(context.Background())) })
		waitFor(t, func() bool { return b.do("GET", "/api/orders/"+stale, nil).body["status"] == "cancelled" })
		young := place()
		require.Equal(t, "paid", b.do("GET", "/api/orders/"+paid, nil).body["status"])
		require.Equal(t, "pending", b.do("GET", "/api/orders/"+young, nil).body["status"], "younger than the age")
		require.Equal(t, json.Number("6"), b.do("GET", "/api/products/"+p, nil).body["stock"], "the cancelled order's items are back")
		var actions []string
		for _, ev := range b.eventsAfter(mark) {
			if ev.Operation == "action" {
				actions = append(actions, ev.RecordID+" "+ev.Action+" "+ev.Principal)
			}
		}
		require.Equal(t, []string{stale + " cancel "}, actions, "one cancel, on the system's authority")

		runs := scheduleJobs(t, b, "schedule.cancel_stale_orders")
		require.NotEmpty(t, runs)
		seen := map[time.Time]bool{}
		for _, j := range runs {
			tick, err := jobs.TickOf(j)
			require.NoError(t, err)
			require.False(t, seen[tick], "tick %s ran twice", tick)
			seen[tick] = true
			require.Equal(t, tick, tick.Truncate(time.Second), "a tick is a whole second")
		}
	})
}

// An update schedule with set: computes each record's values from the record itself;
// records the state machine refuses are skipped and reported, the others changed.
const setScheduleSpec = `resources:
  tickets:
    fields:
      title: {type: string, required: true}
      priority: {type: integer, default: 1}
      state:
        type: enum
        values: [open, escalated, closed]
        default: open
        transitions:
          - {from: open, to: escalated}
          - {from: escalated, to: closed}
    access: {list: public, view: public, create: public, update: public}
schedules:
  - name: escalate
    cron: "* * * * * *"
    update:
      resource: tickets
      filter: "state != 'escalated' && priority >= 3"
      set: {state: "'escalated'", priority: "record.priority + 10"}
      limit: 1
`

func TestScheduleSetsFieldsAndSkipsRefusedRecords(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, setScheduleSpec)
		// The oldest match is refused on every run (closed cannot escalate); with limit 1 the
		// run pages past it instead of being stuck on it.
		closed := b.create("tickets", map[string]any{"title": "old", "priority": 4})
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/tickets/"+closed, map[string]any{"state": "escalated"}).status)
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/tickets/"+closed, map[string]any{"state": "closed"}).status)
		hot := b.create("tickets", map[string]any{"title": "fire", "priority": 5})
		calm := b.create("tickets", map[string]any{"title": "typo", "priority": 1})
		require.NoError(t, b.app.Jobs.Start(context.Background()))
		t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(context.Background())) })
		waitFor(t, func() bool { return b.do("GET", "/api/tickets/"+hot, nil).body["state"] == "escalated" })
		require.Equal(t, json.Number("15"), b.do("GET", "/api/tickets/"+hot, nil).body["priority"], "computed from the record, once")
		require.Equal(t, "open", b.do("GET", "/api/tickets/"+calm, nil).body["state"])
		waitFor(t, func() bool { return len(completed(scheduleJobs(t, b, "schedule.escalate"))) >= 2 })
		require.Equal(t, "closed", b.do("GET", "/api/tickets/"+closed, nil).body["state"], "closed cannot escalate: skipped")
		require.Equal(t, json.Number("4"), b.do("GET", "/api/tickets/"+closed, nil).body["priority"])
		require.Equal(t, json.Number("15"), b.do("GET", "/api/tickets/"+hot, nil).body["priority"], "no longer selected")
	})
}

func completed(list []*jobs.Job) []*jobs.Job {
	var out []*jobs.Job
	for _, j := range list {
		if j.State == jobs.StateCompleted {
			out = append(out, j)
		}
	}
	return out
}

// catchUpSpec ticks once a year: a leader that starts after the last tick ran long ago runs
// the latest missed tick at once with catch_up, and nothing without it.
const catchUpSpec = `resources:
  notes:
    fields:
      title: string
      archived: {type: boolean, default: false}
schedules:
  - name: yearly
    cron: "0 0 1 1 *"
    timezone: Europe/Berlin
    catch_up: CATCH
    update: {resource: notes, filter: "!archived", set: {archived: "true"}}
`

func TestScheduleCatchUpRunsTheLatestMissedTickOnce(t *testing.T) {
	t.Parallel()
	for _, catchUp := range []bool{true, false} {
		name := map[bool]string{true: "catch_up", false: "skip"}[catchUp]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dialect string) {
				b := setup(t, dialect, strings.Replace(catchUpSpec, "CATCH", map[bool]string{true: "true", false: "false"}[catchUp], 1))
				note := b.create("notes", map[string]any{"title": "a"})
				longAgo := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
				require.NoError(t, b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
					return tx.ExecRaw(context.Background(), "INSERT INTO kiln_schedule_ticks (kind, last_tick) VALUES (?, ?)", "schedule.yearly", longAgo)
				}))
				require.NoError(t, b.app.Jobs.Start(context.Background()))
				t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(context.Background())) })
				if !catchUp {
					time.Sleep(2 * time.Second)
					require.Empty(t, scheduleJobs(t, b, "schedule.yearly"), "missed ticks are skipped")
					require.Equal(t, false, b.do("GET", "/api/notes/"+note, nil).body["archived"])
					return
				}
				waitFor(t, func() bool { return len(completed(scheduleJobs(t, b, "schedule.yearly"))) == 1 })
				tick, err := jobs.TickOf(scheduleJobs(t, b, "schedule.yearly")[0])
				require.NoError(t, err)
				berlin, err := time.LoadLocation("Europe/Berlin")
				require.NoError(t, err)
				want := time.Date(time.Now().In(berlin).Year(), 1, 1, 0, 0, 0, 0, berlin)
				require.True(t, want.Equal(tick), "the latest missed tick, in the schedule's zone: got %s want %s", tick, want)
				require.Equal(t, true, b.do("GET", "/api/notes/"+note, nil).body["archived"])
			})
		})
	}
}

// A schedule naming a Go handler runs it with its tick; a handler nobody registered stops
// kiln.New, and so does a registered one no schedule names.
func TestScheduleGoHandler(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	src := "resources:\n  notes:\n    fields:\n      title: string\nschedules:\n  - {name: ping, cron: \"* * * * * *\", handler: ping}\n"
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	cfg := kiln.Config{SpecPath: path, DataDir: dir, MigrationsDir: filepath.Join(dir, "migrations"), Dev: true, LookupEnv: noEnv, AuthSecret: testSecret}
	_, err := kiln.New(context.Background(), cfg)
	require.ErrorContains(t, err, "schedule ping names handler ping")
	x := &kiln.Extensions{}
	x.Scheduled("pong", func(context.Context, kiln.ScheduleRun) error { return nil })
	cfg.Extensions = x
	_, err = kiln.New(context.Background(), cfg)
	require.ErrorContains(t, err, "handler ping")

	ticks := make(chan time.Time, 10)
	x = &kiln.Extensions{}
	x.Scheduled("ping", func(_ context.Context, run kiln.ScheduleRun) error {
		require.Equal(t, "ping", run.Schedule)
		ticks <- run.Tick
		return nil
	})
	cfg.Extensions = x
	app, err := kiln.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, app.Close()) })
	require.NoError(t, app.Jobs.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, app.Jobs.Stop(context.Background())) })
	first := <-ticks
	second := <-ticks
	require.Equal(t, time.Second, second.Sub(first), "consecutive ticks, each once")
}

// Schedules are checked when the spec loads, each problem at its file:line:col.
func TestScheduleSpecErrorsArePlaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	src := `resources:
  notes:
    fields:
      title: string
schedules:
  - name: a
    cron: "61 * * * *"
    cleanup: [refresh_tokens, nope]
  - name: b
    cron: "@daily"
    timezone: Mars/Olympus
    update: {resource: notes, filter: "title == 'x'", action: archive}
  - name: c
    cron: "@hourly"
`
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err := kiln.LoadSpec(path, noEnv)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, path+":7:11: schedule a: cron \"61 * * * *\"")
	require.Contains(t, msg, path+":6:9: schedule a: cleanup refresh_tokens needs accounts")
	require.Contains(t, msg, path+":6:9: schedule a: cleanup \"nope\" is not one of")
	require.Contains(t, msg, path+":11:15: schedule b: timezone \"Mars/Olympus\" is not an IANA time zone name")
	require.Contains(t, msg, path+":12:63: schedule b: notes has no action \"archive\"")
	require.Contains(t, msg, path+":13:9: schedule c needs exactly one of cleanup:, update: or handler:")

	src = `resources:
  notes:
    fields:
      title: string
schedules:
  - name: d
    cron: "@hourly"
    update: {resource: notes, filter: "nope == 1", set: {title: "1"}}
`
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err = kiln.LoadSpec(path, noEnv)
	require.Error(t, err)
	msg = err.Error()
	require.Contains(t, msg, path+":8:39: schedule d: update.filter:")
	require.Contains(t, msg, "nope")
	require.Contains(t, msg, path+":8:65: schedule d update.set.title: must be of type string")
}

// The shop's nightly cleanup, ticking every second: expired sessions and mailed tokens and
// events past retention go; live ones stay.
func TestScheduleCleanupDeletesWhatExpired(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
		require.NoError(t, err)
		src := strings.Replace(string(raw), `cron: "0 3 * * *"`, `cron: "* * * * * *"`, 1)
		b := setup(t, dialect, src)
		ctx := context.Background()
		now := time.Now()
		past, future := now.Add(-time.Hour).UnixMicro(), now.Add(time.Hour).UnixMicro()
		require.NoError(t, b.app.Store.InTx(ctx, func(tx *store.Exec) error {
			for i, exp := range []int64{past, future} {
				if err := tx.ExecRaw(ctx, "INSERT INTO kiln_sessions (token_hash, family_id, account_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
					fmt.Sprint("s", i), "f", "a", past, exp); err != nil {
					return err
				}
				if err := tx.ExecRaw(ctx, "INSERT INTO kiln_action_tokens (token_hash, purpose, account_id, expires_at) VALUES (?, ?, ?, ?)",
					fmt.Sprint("t", i), "reset", "a", exp); err != nil {
					return err
				}
			}
			// Writes append events in time order; the set-up's are cleared so that the old
			// one comes first, as it would have been written (on SQLite the sweep goes by id).
			if err := tx.ExecRaw(ctx, "DELETE FROM kiln_events"); err != nil {
				return err
			}
			old := &events.Event{Resource: "products", Operation: "create", RecordID: "x", At: now.Add(-30 * 24 * time.Hour)}
			return events.Append(ctx, tx, old)
		}))
		b.product("Fresh", "1", 1) // a recent event, kept
		count := func(table string) int {
			rows, err := b.app.Store.Reader().QueryRaw(ctx, "SELECT COUNT(*) FROM "+table)
			require.NoError(t, err)
			defer rows.Close()
			require.True(t, rows.Next())
			var n int
			require.NoError(t, rows.Scan(&n))
			return n
		}
		before := count("kiln_events")
		require.NoError(t, b.app.Jobs.Start(ctx))
		t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(ctx)) })
		waitFor(t, func() bool { return len(completed(scheduleJobs(t, b, "schedule.nightly_cleanup"))) > 0 })
		require.Equal(t, 1, count("kiln_sessions WHERE token_hash IN ('s0', 's1')"), "the expired session went")
		require.Equal(t, 1, count("kiln_action_tokens WHERE token_hash IN ('t0', 't1')"), "the expired token went")
		require.Equal(t, before-1, count("kiln_events"))
	})
}

// triggerUpdateSpec: discontinuing a product holds its open order lines, by a trigger's
// update: the lines are selected when the event is written and changed by the job.
const triggerUpdateSpec = `resources:
  products:
    fields:
      name: string
      discontinued: {type: boolean, default: false}
    access: {list: public, view: public, create: public, update: public}
    triggers:
      - name: hold_lines
        on: [update]
        when: "!old.discontinued && new.discontinued"
        update:
          resource: lines
          filter: "product == new.id && state == 'open'"
          set: {state: "'held'", note: "'held: ' + record.id"}
  lines:
    fields:
      product: {type: relation, to: products, required: true}
      state: {type: enum, values: [open, held], default: open}
      note: string
    access: {list: public, view: public, create: public}
`

func TestTriggerUpdatesTheRecordsItsFilterSelected(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, triggerUpdateSpec)
		p1 := b.create("products", map[string]any{"name": "old"})
		p2 := b.create("products", map[string]any{"name": "new"})
		l1 := b.create("lines", map[string]any{"product": p1})
		l2 := b.create("lines", map[string]any{"product": p1})
		other := b.create("lines", map[string]any{"product": p2})
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/products/"+p1, map[string]any{"discontinued": true}).status)
		later := b.create("lines", map[string]any{"product": p1})
		_, err := b.app.Jobs.Relay(context.Background())
		require.NoError(t, err)
		list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "trigger.products.hold_lines"})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.NoError(t, b.app.Jobs.Start(context.Background()))
		t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(context.Background())) })
		waitFor(t, func() bool {
			j, err := b.app.Jobs.Get(context.Background(), list[0].ID)
			require.NoError(t, err)
			return j.State == jobs.StateCompleted
		})
		for _, id := range []string{l1, l2} {
			line := b.do("GET", "/api/lines/"+id, nil).body
			require.Equal(t, "held", line["state"])
			require.Equal(t, "held: "+id, line["note"])
		}
		require.Equal(t, "open", b.do("GET", "/api/lines/"+other, nil).body["state"], "another product's line")
		require.Equal(t, "open", b.do("GET", "/api/lines/"+later, nil).body["state"], "selected when the event was written")
	})
}

// ruleRefusesScheduleSpec has a rule that refuses the schedule's change for VIP tickets.
const ruleRefusesScheduleSpec = `resources:
  tickets:
    fields:
      title: {type: string, required: true}
      vip: {type: boolean, default: false}
      state: {type: enum, values: [open, escalated], default: open}
    rules:
      - name: vip_tickets_stay_open
        on: [update]
        check: "!record.vip || record.state == 'open'"
        fields: [state]
        message: a VIP ticket stays open
    access: {list: public, view: public, create: public, update: public}
schedules:
  - name: escalate
    cron: "* * * * * *"
    update: {resource: tickets, filter: "state == 'open'", set: {state: "'escalated'"}}
`

// A record that refuses a scheduled update is logged with why: the code, the message and the
// rule that failed, so an operator can tell which rule keeps refusing it.
func TestScheduleLogsTheRuleThatRefusedARecord(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	logs := &bytes.Buffer{}
	b := setupFull(t, "sqlite", ruleRefusesScheduleSpec, slog.New(slog.NewJSONHandler(&lockedWriter{w: logs, mu: &mu}, nil)))
	vip := b.create("tickets", map[string]any{"title": "boss", "vip": true})
	plain := b.create("tickets", map[string]any{"title": "typo"})
	require.NoError(t, b.app.Jobs.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(context.Background())) })
	refused := func() map[string]any {
		mu.Lock()
		defer mu.Unlock()
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "update: a record refused it" && m["id"] == vip {
				return m
			}
		}
		return nil
	}
	waitFor(t, func() bool { return refused() != nil })
	line := refused()
	require.Equal(t, "validation_failed", line["code"])
	require.Equal(t, "state: rule (rule vip_tickets_stay_open)", line["fields"])
	require.NotEmpty(t, line["message"])
	require.Equal(t, "escalated", b.do("GET", "/api/tickets/"+plain, nil).body["state"])
	require.Equal(t, "open", b.do("GET", "/api/tickets/"+vip, nil).body["state"])
}

// A record a scheduled update's logic cannot handle (a value its enum does not hold, computed
// from the record) is logged at WARN with the expression's error, which the answer of a request
// leaves to the log: "the server's log names the expression" held for requests only (a trial).
func TestScheduleLogsWhatItsLogicCouldNotCompute(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	logs := &bytes.Buffer{}
	src := strings.Replace(ruleRefusesScheduleSpec, `set: {state: "'escalated'"}`, `set: {state: "record.title"}`, 1)
	b := setupFull(t, "sqlite", src, slog.New(slog.NewJSONHandler(&lockedWriter{w: logs, mu: &mu}, nil)))
	odd := b.create("tickets", map[string]any{"title": "bogus"})
	require.NoError(t, b.app.Jobs.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(context.Background())) })
	failed := func() map[string]any {
		mu.Lock()
		defer mu.Unlock()
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "update: logic could not be computed for a record" && m["id"] == odd {
				return m
			}
		}
		return nil
	}
	waitFor(t, func() bool { return failed() != nil })
	line := failed()
	require.Equal(t, "WARN", line["level"])
	require.Equal(t, "logic_failed", line["code"])
	require.Contains(t, line["error"], `"bogus" is not one of its values`)
	require.Equal(t, "open", b.do("GET", "/api/tickets/"+odd, nil).body["state"])
}
