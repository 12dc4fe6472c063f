package kiln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/jobs"
)

// eventsAfter lists the outbox after id, as "resource operation[ action]" with the events.
func (b *testBundle) eventsAfter(id int64) []*events.Event {
	b.t.Helper()
	evs, err := events.List(context.Background(), b.app.Store.Reader(), events.ListOpts{After: id})
	require.NoError(b.t, err)
	return evs
}

func (b *testBundle) lastEvent() int64 {
	b.t.Helper()
	evs := b.eventsAfter(0)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].ID
}

func summary(evs []*events.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = strings.TrimSpace(ev.Resource + " " + ev.Operation + " " + ev.Action)
	}
	return out
}

func values(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	if raw == nil {
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	return m
}

// Every committed create, update, delete and action appends its event — with the record
// before and after, the principal and a growing id — and a refused write appends none.
func TestEventsRecordEveryCommittedWrite(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		start := b.lastEvent()
		p := b.product("Kettle", "20", 5)
		res := b.do("PATCH", "/api/products/"+p, map[string]any{"stock": 4})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		evs := b.eventsAfter(start)
		require.Equal(t, []string{"products create", "products update"}, summary(evs))
		require.Nil(t, evs[0].Old)
		require.Equal(t, "Kettle", values(t, evs[0].New)["name"])
		require.Equal(t, p, evs[0].RecordID)
		require.Equal(t, json.Number("5"), values(t, evs[1].Old)["stock"])
		require.Equal(t, json.Number("4"), values(t, evs[1].New)["stock"])
		require.Greater(t, evs[1].ID, evs[0].ID)

		customer := b.account("customer")
		tok := bearer(b.tokenFor(customer))
		mark := b.lastEvent()
		order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 2)}}, tok...)
		require.Equal(t, http.StatusCreated, order.status, string(order.raw))
		id := order.body["id"].(string)
		evs = b.eventsAfter(mark)
		require.Equal(t, []string{"products update", "order_items create", "orders create"}, summary(evs),
			"the stock effect, the nested item, then the order as committed")
		require.Equal(t, customer, evs[2].Principal)
		require.Equal(t, json.Number("40"), values(t, evs[2].New)["total"], "the order's event carries its final total")

		mark = b.lastEvent()
		res = b.do("POST", "/api/orders/"+id+"/cancel", nil, tok...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		evs = b.eventsAfter(mark)
		require.Equal(t, []string{"products update", "orders update", "orders action cancel"}, summary(evs))
		action := evs[2]
		require.Equal(t, "pending", values(t, action.Old)["status"])
		require.Equal(t, "cancelled", values(t, action.New)["status"])

		gone := b.product("Gone", "1", 1)
		mark = b.lastEvent()
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/products/"+gone, nil).status)
		evs = b.eventsAfter(mark)
		require.Equal(t, []string{"products delete"}, summary(evs))
		require.Nil(t, evs[0].New)
		require.Equal(t, "Gone", values(t, evs[0].Old)["name"])

		mark = b.lastEvent()
		require.Equal(t, http.StatusConflict, b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 99)}}, tok...).status)
		require.Equal(t, http.StatusBadRequest, b.do("POST", "/api/products", map[string]any{"name": "", "price": -1}).status)
		batch := b.do("POST", "/api/batch", map[string]any{"operations": []any{
			map[string]any{"method": "POST", "path": "/api/tags", "body": map[string]any{"name": "fresh"}},
			map[string]any{"method": "POST", "path": "/api/tags", "body": map[string]any{"name": ""}},
		}})
		require.Equal(t, http.StatusBadRequest, batch.status, string(batch.raw))
		require.Empty(t, b.eventsAfter(mark), "refused and rolled-back writes leave no event")
	})
}

// A create with nothing between its row and its event writes both in one statement on
// PostgreSQL (store.InsertScanning): the event is the record's, in the record's transaction; a
// conflict on the row is the same 409 as on SQLite and leaves neither; a create with to-many
// links keeps its own insert.
func TestCreateWritesItsRowAndEventTogether(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		mark, alone := b.lastEvent(), b.app.Store.Alone()
		p := b.create("products", map[string]any{"name": "Lamp", "price": json.Number("9.50"), "sku": "L-1"})
		evs := b.eventsAfter(mark)
		require.Equal(t, []string{"products create"}, summary(evs))
		require.Equal(t, p, evs[0].RecordID)
		require.Equal(t, "Lamp", values(t, evs[0].New)["name"])
		require.Equal(t, json.Number("9.5"), values(t, evs[0].New)["price"])
		if dialect == "postgres" {
			xmin, cmin := b.writtenBy("products", p)
			evXmin, evCmin := b.writtenBy("kiln_events", evs[0].ID)
			require.Equal(t, xmin, evXmin, "the event was written by the row's transaction")
			require.Equal(t, cmin, evCmin, "and by the row's statement")
			require.Equal(t, alone+1, b.app.Store.Alone(), "that statement was the whole transaction: no BEGIN, no COMMIT")
		}
		alone = b.app.Store.Alone()

		mark = b.lastEvent()
		res := b.do("POST", "/api/products", map[string]any{"name": "Lamp 2", "price": 1, "sku": "L-1"})
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "conflict", res.body["error"], string(res.raw))
		require.Equal(t, []any{map[string]any{"field": "sku", "code": "unique", "message": "is already taken"}},
			res.body["errors"], string(res.raw))
		require.Empty(t, b.eventsAfter(mark), "the refused create left no event")
		list := b.do("GET", "/api/products?filter="+url.QueryEscape(`name == "Lamp 2"`), nil)
		require.Equal(t, http.StatusOK, list.status, string(list.raw))
		require.Empty(t, list.body["data"], "nor a row")

		// With an idempotency key the answer is stored in the same transaction, after the event.
		mark = b.lastEvent()
		keyed := b.do("POST", "/api/products", map[string]any{"name": "Keyed", "price": 2}, "Idempotency-Key", "create-keyed-1")
		require.Equal(t, http.StatusCreated, keyed.status, string(keyed.raw))
		require.Equal(t, []string{"products create"}, summary(b.eventsAfter(mark)))
		require.Equal(t, alone, b.app.Store.Alone(), "neither the refused create nor the keyed one ended alone")

		tag := b.create("tags", map[string]any{"name": "warm"})
		mark, alone = b.lastEvent(), b.app.Store.Alone()
		q := b.create("products", map[string]any{"name": "Heater", "price": 30, "tags": []any{tag}})
		evs = b.eventsAfter(mark)
		require.Equal(t, []string{"products create"}, summary(evs))
		require.Equal(t, []any{tag}, values(t, evs[0].New)["tags"])
		got := b.do("GET", "/api/products/"+q, nil)
		require.Equal(t, []any{tag}, got.body["tags"])
		if dialect == "postgres" {
			_, cmin := b.writtenBy("products", q)
			_, evCmin := b.writtenBy("kiln_events", evs[0].ID)
			require.Less(t, cmin, evCmin, "with links the row is written first, the event after them")
			require.Equal(t, alone, b.app.Store.Alone(), "nor did one with links")
		}
	})
}

// writtenBy is the transaction and the command within it that wrote the row id of table
// (PostgreSQL's xmin and cmin).
func (b *testBundle) writtenBy(table string, id any) (xmin, cmin int64) {
	b.t.Helper()
	rows, err := b.app.Store.Reader().QueryRaw(context.Background(),
		"SELECT xmin::text::bigint, cmin::text::bigint FROM "+table+" WHERE id = ?", id)
	require.NoError(b.t, err)
	defer rows.Close()
	require.True(b.t, rows.Next(), "no row %v in %s", id, table)
	require.NoError(b.t, rows.Scan(&xmin, &cmin))
	return xmin, cmin
}

// Password hashes and other hidden fields never reach the outbox.
func TestEventsLeaveHiddenFieldsOut(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	mark := b.lastEvent()
	b.account("customer")
	evs := b.eventsAfter(mark)
	require.NotEmpty(t, evs)
	for _, ev := range evs {
		require.NotContains(t, string(ev.New), "password")
	}
}

// The sweep deletes events older than the cut-off and keeps the rest; ids go on growing.
func TestEventsSweepDeletesOldOnes(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		b.product("Old", "1", 1)
		old := b.lastEvent()
		cut := time.Now()
		for time.Now().UnixMicro() == cut.UnixMicro() {
			time.Sleep(time.Microsecond)
		}
		b.product("New", "1", 1)
		n, err := events.Sweep(context.Background(), b.app.Store, cut)
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, int64(1))
		left := b.eventsAfter(0)
		require.Len(t, left, 1)
		require.Equal(t, "New", values(t, left[0].New)["name"])
		b.product("Newer", "1", 1)
		newer := b.lastEvent()
		require.Greater(t, newer, old+1, "ids are not reused after a sweep")

		// Every event old: the sweep empties the log (on SQLite it has no created_at index and
		// finds the cut by id), and the next event's id still grows.
		cut = time.Now()
		for time.Now().UnixMicro() == cut.UnixMicro() {
			time.Sleep(time.Microsecond)
		}
		n, err = events.Sweep(context.Background(), b.app.Store, cut)
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, int64(2))
		require.Empty(t, b.eventsAfter(0))
		b.product("Newest", "1", 1)
		require.Greater(t, b.lastEvent(), newer, "ids are not reused after the log was emptied")
	})
}

func triggerJobs(t *testing.T, b *testBundle) []*jobs.Job {
	t.Helper()
	_, err := b.app.Jobs.Relay(context.Background()) // workers are off: move staged jobs in
	require.NoError(t, err)
	list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: "trigger.orders.paid_confirmation"})
	require.NoError(t, err)
	return list
}

// The shop's paid_confirmation trigger: an order that becomes paid enqueues a mail job in
// the same transaction; other changes, refused changes and rolled-back batches enqueue
// nothing; a worker sends the mail.
func TestShopPaidOrderEnqueuesItsConfirmationMail(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		p := b.product("Lamp", "30", 10)
		customer := b.account("customer")
		order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 1)}}, bearer(b.tokenFor(customer))...)
		require.Equal(t, http.StatusCreated, order.status, string(order.raw))
		id := order.body["id"].(string)

		rolled := b.do("POST", "/api/batch", map[string]any{"operations": []any{
			map[string]any{"method": "PATCH", "path": "/api/orders/" + id, "body": map[string]any{"status": "paid"}},
			map[string]any{"method": "POST", "path": "/api/tags", "body": map[string]any{"name": ""}},
		}})
		require.Equal(t, http.StatusBadRequest, rolled.status, string(rolled.raw))
		require.Empty(t, triggerJobs(t, b), "the batch rolled back: no job")
		require.Equal(t, http.StatusConflict, b.do("PATCH", "/api/orders/"+id, map[string]any{"status": "delivered"}).status)
		require.Empty(t, triggerJobs(t, b))

		res := b.do("PATCH", "/api/orders/"+id, map[string]any{"status": "paid"})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		res = b.do("PATCH", "/api/orders/"+id, map[string]any{"status": "shipped"})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		list := triggerJobs(t, b)
		require.Len(t, list, 1, "one job: only the change to paid fires")
		require.Equal(t, "mail", list[0].Queue)
		require.Equal(t, 8, list[0].MaxAttempts)
		var args struct {
			RecordID string            `json:"record_id"`
			Mail     map[string]string `json:"mail"`
		}
		require.NoError(t, json.Unmarshal(list[0].Args, &args))
		require.Equal(t, id, args.RecordID)
		email := b.do("GET", "/api/users/"+customer, nil).body["email"].(string)
		require.Equal(t, email, args.Mail["to"])

		require.NoError(t, b.app.Jobs.Start(context.Background()))
		t.Cleanup(func() { require.NoError(t, b.app.Jobs.Stop(context.Background())) })
		waitFor(t, func() bool {
			j, err := b.app.Jobs.Get(context.Background(), list[0].ID)
			require.NoError(t, err)
			return j.State == jobs.StateCompleted
		})
		mails, err := os.ReadDir(filepath.Join(b.dataDir, "outbox"))
		require.NoError(t, err)
		var sent []string
		for _, m := range mails {
			raw, err := os.ReadFile(filepath.Join(b.dataDir, "outbox", m.Name()))
			require.NoError(t, err)
			if strings.Contains(string(raw), "Subject: Your order is paid") {
				sent = append(sent, string(raw))
			}
		}
		require.Len(t, sent, 1)
		require.Contains(t, sent[0], "To: "+email)
		require.Contains(t, sent[0], id)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, cond)
}

// waitWithin is waitFor with a bound of its own.
func waitWithin(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A trigger's expressions are type-checked when the spec loads, and a bad one is reported
// at its file:line:col; so are a missing handler and an unknown action.
func TestTriggerSpecErrorsArePlaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "kiln.yaml")
	src := `resources:
  notes:
    fields:
      title: string
    triggers:
      - name: bad_when
        on: [update]
        when: "old.nope == 1"
        action: archive
      - name: bad_mail
        on: [create]
        mail: {to: "new.title + 1", subject: "'s'"}
      - name: bad_on
        on: [publish]
        handler: h
`
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err := kiln.LoadSpec(path, noEnv)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, path+":9:17: trigger bad_when: notes has no action \"archive\"")
	require.Contains(t, msg, path+":13:13: trigger bad_on: on: \"publish\" is not create, update, delete or an action of notes")
	src = strings.Replace(strings.Replace(src, "action: archive", "handler: h", 1), "[publish]", "[delete]", 1)
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err = kiln.LoadSpec(path, noEnv)
	require.Error(t, err)
	msg = err.Error()
	require.Contains(t, msg, path+":8:15: trigger bad_when when:")
	require.Contains(t, msg, "nope")
	require.Contains(t, msg, path+":12:20: trigger bad_mail mail.to:")
}

// The admin jobs API: accounts of the administering roles list, show, retry and cancel jobs
// and read the statistics; everyone else is refused; bad parameters are 400s.
func TestAdminJobsAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	p := b.product("Mug", "5", 5)
	customer := b.account("customer")
	order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 1)}}, bearer(b.tokenFor(customer))...)
	require.Equal(t, http.StatusCreated, order.status, string(order.raw))
	require.Equal(t, http.StatusOK, b.do("PATCH", "/api/orders/"+order.body["id"].(string), map[string]any{"status": "paid"}).status)
	_, err := b.app.Jobs.Relay(context.Background()) // workers are off: move the staged job in
	require.NoError(t, err)

	require.Equal(t, http.StatusUnauthorized, b.do("GET", "/api/admin/jobs", nil, "Authorization", "").status)
	forbidden := b.do("GET", "/api/admin/jobs", nil, bearer(b.tokenFor(customer))...)
	require.Equal(t, http.StatusForbidden, forbidden.status)
	require.Equal(t, "forbidden", forbidden.body["error"])

	list := b.do("GET", "/api/admin/jobs?state=available&kind=trigger.orders.paid_confirmation", nil)
	require.Equal(t, http.StatusOK, list.status, string(list.raw))
	items := list.body["items"].([]any)
	require.Len(t, items, 1)
	id := fmt.Sprint(items[0].(map[string]any)["id"])
	one := b.do("GET", "/api/admin/jobs/"+id, nil)
	require.Equal(t, http.StatusOK, one.status)
	require.Equal(t, "mail", one.body["queue"])
	cancelled := b.do("POST", "/api/admin/jobs/"+id+"/cancel", nil)
	require.Equal(t, http.StatusOK, cancelled.status, string(cancelled.raw))
	require.Equal(t, "cancelled", cancelled.body["state"])
	retried := b.do("POST", "/api/admin/jobs/"+id+"/retry", nil)
	require.Equal(t, http.StatusOK, retried.status, string(retried.raw))
	require.Equal(t, "available", retried.body["state"])
	stats := b.do("GET", "/api/admin/jobs/stats", nil)
	require.Equal(t, http.StatusOK, stats.status, string(stats.raw))
	require.Equal(t, json.Number("2"), stats.body["waiting"], "the mail and the shop's order_paid webhook delivery")

	bad := b.do("GET", "/api/admin/jobs?state=exploded&limit=-1", nil)
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Equal(t, map[string]string{"state": "enum", "limit": "format"}, fieldCodes(bad.body))
	// as a resource's list: an unknown or repeated parameter is named, not ignored (a helper's
	// state=dead&state=completed listed the dead jobs alone)
	bad = b.do("GET", "/api/admin/jobs?state=dead&state=completed&sort=id", nil)
	require.Equal(t, http.StatusBadRequest, bad.status, string(bad.raw))
	require.Equal(t, map[string]string{"state": "repeated", "sort": "unknown_parameter"}, fieldCodes(bad.body))
	// a page larger than 500 is refused as a resource's is, not cut to 500 without a word
	bad = b.do("GET", "/api/admin/jobs?limit=100000", nil)
	require.Equal(t, http.StatusBadRequest, bad.status, string(bad.raw))
	require.Equal(t, map[string]string{"limit": "range"}, fieldCodes(bad.body))
	require.Equal(t, http.StatusOK, b.do("GET", "/api/admin/jobs?limit=500", nil).status)
	require.Equal(t, http.StatusNotFound, b.do("GET", "/api/admin/jobs/999999", nil).status)
	require.Equal(t, http.StatusNotFound, b.do("POST", "/api/admin/jobs/abc/retry", nil).status)
	require.Equal(t, http.StatusMethodNotAllowed, b.do("DELETE", "/api/admin/jobs/"+id, nil).status)
}

// A mail trigger whose to: is a relation field itself sends to an id, never an address: the
// spec is refused at the expression, with the get() that reads the address.
func TestTriggerMailToARelationIDIsASpecError(t *testing.T) {
	t.Parallel()
	src := `resources:
  users:
    fields:
      name: string
      contact: {type: email, required: true}
  notes:
    fields:
      owner: {type: relation, to: users}
      title: string
    triggers:
      - name: tell
        on: [create]
        mail: {to: "new.owner", subject: "'s'"}
`
	path, err := loadSpecIn(t, t.TempDir(), src)
	require.Error(t, err)
	require.Contains(t, err.Error(), path+":13:20: trigger tell mail.to: new.owner is the id of a users record, not an address: write get('users', new.owner).contact")
	src = strings.Replace(src, `to: "new.owner"`, `to: "get('users', new.owner).contact"`, 1)
	_, err = loadSpecIn(t, t.TempDir(), src)
	require.NoError(t, err)

	// an id read through get() is refused alike (a new user's trial: only the
	// bare field was, and every mail was cancelled at run time)
	pets := strings.Replace(src, "  notes:\n", "  pets:\n    fields:\n      owner: {type: relation, to: users}\n  notes:\n", 1)
	pets = strings.Replace(pets, "      title: string\n", "      title: string\n      pet: {type: relation, to: pets}\n", 1)
	for _, to := range []string{"get('pets', new.pet).owner"} {
		_, err = loadSpecIn(t, t.TempDir(), strings.Replace(pets, `to: "get('users', new.owner).contact"`, `to: "`+to+`"`, 1))
		require.Error(t, err, to)
		require.Contains(t, err.Error(), "trigger tell mail.to: "+to+" is the id of a users record, not an address: write get('users', "+to+").contact")
	}
	_, err = loadSpecIn(t, t.TempDir(), strings.Replace(pets, `to: "get('users', new.owner).contact"`, `to: "get('users', get('pets', new.pet).owner).contact"`, 1))
	require.NoError(t, err)
}
