package kiln_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A PATCH or PUT that changes nothing writes nothing: the same version and ETag (another
// client's If-Match still holds), the same updated_at, no event (so no webhook delivery or
// live update), no effect; it answers the record as it stands. A PATCH of {} made a new
// version and sent a webhook whose old and new differed only in updated_at and version (a
// helper's trial). A real change still writes.
func TestUpdateThatChangesNothingWritesNothing(t *testing.T) {
	t.Parallel()
	src := `resources:
  boards:
    fields:
      name: {type: string, required: true}
      edits: {type: integer, default: 0}
  labels:
    fields:
      name: {type: string, required: true}
  cards:
    fields:
      board: {type: relation, to: boards, required: true}
      title: {type: string, required: true}
      labels: {type: relation, to: labels, many: true}
    effects:
      - name: count_edit
        on: [update]
        update: boards
        id: record.board
        set: {edits: "target.edits + 1"}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		board := b.do("POST", "/api/boards", map[string]any{"name": "b"})
		require.Equal(t, http.StatusCreated, board.status, string(board.raw))
		l1 := b.do("POST", "/api/labels", map[string]any{"name": "x"}).body["id"]
		l2 := b.do("POST", "/api/labels", map[string]any{"name": "y"}).body["id"]
		card := b.do("POST", "/api/cards", map[string]any{"board": board.body["id"], "title": "t", "labels": []any{l1, l2}})
		require.Equal(t, http.StatusCreated, card.status, string(card.raw))
		path := "/api/cards/" + card.body["id"].(string)
		etag, mark := card.header.Get("ETag"), b.lastEvent()
		for _, c := range []struct {
			method string
			body   map[string]any
		}{
			{"PATCH", map[string]any{}},
			{"PATCH", map[string]any{"title": "t"}},
			{"PATCH", map[string]any{"labels": []any{l1, l2}}},
			{"PUT", map[string]any{"board": board.body["id"], "title": "t", "labels": []any{l1, l2}}},
		} {
			res := b.do(c.method, path, c.body, "If-Match", etag)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			require.Equal(t, etag, res.header.Get("ETag"), "%s %v", c.method, c.body)
			require.Equal(t, card.body["updated_at"], res.body["updated_at"], "%s %v", c.method, c.body)
		}
		require.Empty(t, summary(b.eventsAfter(mark)), "nothing written, nothing to tell")
		require.Equal(t, json.Number("0"), b.do("GET", "/api/boards/"+board.body["id"].(string), nil).body["edits"], "no effect ran")

		res := b.do("PATCH", path, map[string]any{"title": "u"}, "If-Match", etag)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.NotEqual(t, etag, res.header.Get("ETag"))
		require.ElementsMatch(t, []string{"cards update", "boards update"}, summary(b.eventsAfter(mark)))
	})
}

// null for a many-to-many relation clears it as [] does: the answer says [] (not null, which
// the OpenAPI document does not allow), and on a record without links it writes nothing. It
// answered null and made a new version, an event and a webhook out of nothing (a helper's
// trial).
func TestNullForALinkListIsTheEmptyList(t *testing.T) {
	t.Parallel()
	src := `resources:
  labels:
    fields:
      name: {type: string, required: true}
  cards:
    fields:
      title: {type: string, required: true}
      labels: {type: relation, to: labels, many: true}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		l1 := b.do("POST", "/api/labels", map[string]any{"name": "x"}).body["id"]
		card := b.do("POST", "/api/cards", map[string]any{"title": "t", "labels": nil})
		require.Equal(t, http.StatusCreated, card.status, string(card.raw))
		require.Equal(t, []any{}, card.body["labels"], string(card.raw))
		path := "/api/cards/" + card.body["id"].(string)
		etag, mark := card.header.Get("ETag"), b.lastEvent()
		for _, method := range []string{"PATCH", "PUT"} {
			res := b.do(method, path, map[string]any{"title": "t", "labels": nil})
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			require.Equal(t, []any{}, res.body["labels"], "%s: %s", method, res.raw)
			require.Equal(t, etag, res.header.Get("ETag"), "%s: nothing changed", method)
		}
		require.Empty(t, summary(b.eventsAfter(mark)), "nothing written, nothing to tell")

		res := b.do("PATCH", path, map[string]any{"labels": []any{l1}})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		res = b.do("PATCH", path, map[string]any{"labels": nil})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []any{}, res.body["labels"], string(res.raw))
		require.Equal(t, []any{}, b.do("GET", path, nil).body["labels"], "the links are gone")
		require.Equal(t, []string{"cards update", "cards update"}, summary(b.eventsAfter(mark)))
	})
}

// A PATCH that sends a link list dropping a link to a soft-deleted target writes it: the
// stored links to deleted targets are not read, so it looked unchanged and the dropped link
// came back with its target's restore (a review of the no-op update).
func TestUpdateDroppingAHiddenLinkWrites(t *testing.T) {
	t.Parallel()
	src := `resources:
  labels:
    soft_delete: true
    fields:
      name: {type: string, required: true}
  cards:
    fields:
      title: {type: string, required: true}
      labels: {type: relation, to: labels, many: true}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		l1 := b.do("POST", "/api/labels", map[string]any{"name": "x"}).body["id"].(string)
		l2 := b.do("POST", "/api/labels", map[string]any{"name": "y"}).body["id"].(string)
		card := b.do("POST", "/api/cards", map[string]any{"title": "t", "labels": []any{l1, l2}})
		require.Equal(t, http.StatusCreated, card.status, string(card.raw))
		path := "/api/cards/" + card.body["id"].(string)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/labels/"+l2, nil).status)
		res := b.do("PATCH", path, map[string]any{"labels": []any{l1}})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		r := b.do("POST", "/api/labels/"+l2+"/restore", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		got := b.do("GET", path, nil)
		require.Equal(t, []any{l1}, got.body["labels"], string(got.raw))
	})
}

// A PATCH of the JSON or the date-time a record holds changes nothing, on PostgreSQL too,
// which gives JSON back in its own layout (a review of the no-op update: a new version).
func TestUpdateOfTheSameJSONWritesNothing(t *testing.T) {
	t.Parallel()
	src := `resources:
  notes:
    fields:
      title: {type: string, required: true}
      meta: {type: json}
      at: {type: datetime}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		body := map[string]any{"title": "t", "meta": map[string]any{"a": 1, "b": []any{1, 2}}, "at": "2024-01-01T10:00:00.123456789Z"}
		n := b.do("POST", "/api/notes", body)
		require.Equal(t, http.StatusCreated, n.status, string(n.raw))
		path := "/api/notes/" + n.body["id"].(string)
		for _, patch := range []map[string]any{{"meta": body["meta"]}, {"at": n.body["at"]}} {
			res := b.do("PATCH", path, patch)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			require.Equal(t, n.header.Get("ETag"), res.header.Get("ETag"), "%v: %s", patch, res.raw)
		}
	})
}

// salaried: accounts with a hidden salary, each may read and update its own record.
const salaried = `roles: [admin, member]
auth: {account: users, signup: "off", admin_roles: [admin]}
resources:
  users:
    fields:
      name: string
      salary: {type: integer, hidden: true}
    access:
      list: "auth.role == 'admin' || record.id == auth.id"
      view: "auth.role == 'admin' || record.id == auth.id"
      create: [admin]
      update: "auth.role == 'admin' || record.id == auth.id"
      delete: [admin]
`

// A PATCH that sends a hidden field writes, whatever value it sends: when a PATCH of the value
// the record held changed nothing, the answer's version told a writer who may never read the
// field (a member's own salary) whether it had guessed right (a hostile review found it).
func TestUpdateSendingAHiddenFieldAlwaysWrites(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, salaried)
		alice := b.account("member")
		ta := bearer(b.tokenFor(alice))
		res := b.do("PATCH", "/api/users/"+alice, map[string]any{"salary": 5000})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		var tags []string
		for _, guess := range []int{5000, 4000, 4000} {
			res = b.do("PATCH", "/api/users/"+alice, map[string]any{"salary": guess}, ta...)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			require.NotContains(t, res.body, "salary")
			tags = append(tags, res.header.Get("ETag"))
		}
		require.NotEqual(t, tags[0], tags[1])
		require.NotEqual(t, tags[1], tags[2], "a right guess and a wrong one answer alike: each writes")
		res = b.do("PATCH", "/api/users/"+alice, map[string]any{"name": "a"}, ta...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		same := b.do("PATCH", "/api/users/"+alice, map[string]any{"name": "a"}, ta...)
		require.Equal(t, res.header.Get("ETag"), same.header.Get("ETag"), "a visible field's unchanged value still writes nothing")
	})
}
