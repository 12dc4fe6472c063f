package kiln_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const seenSpec = `roles: [admin, member]
auth:
  account: members
  signup: open
  default_role: member
  admin_roles: [admin]
resources:
  members:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  notes:
    fields:
      owner: {type: relation, to: members, default: auth.id, readonly: true}
      text: {type: string, required: true}
      shared: {type: boolean, default: false}
      closed: {type: boolean, default: false}
      attachment: {type: file, accept: [text/plain]}
    actions:
      close:
        access: "record.owner == auth.id"
        steps:
          - set: {closed: "true"}
    access:
      list: "record.owner == auth.id || record.shared"
      view: "record.owner == auth.id || record.shared"
      create: [member]
      update: "record.owner == auth.id"
      delete: "record.owner == auth.id"
`

// A write to a record its rule does not select is 404 when the caller cannot see the record
// either (its existence is not told), and 403 when the caller may view it: a member reading a
// shared note learnt nothing from a 404 but that the API contradicted itself. Update (PATCH,
// PUT, the one-statement update of PostgreSQL), delete, an action, a file upload and a batch's
// operation all answer alike, and nothing is written.
func TestWriteToARecordTheCallerSeesButMayNotChangeIs403(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, seenSpec)
		owner, other := bearer(b.token("member")), bearer(b.token("member"))
		shared := b.do("POST", "/api/notes", map[string]any{"text": "shared", "shared": true}, owner...)
		require.Equal(t, http.StatusCreated, shared.status, string(shared.raw))
		private := b.do("POST", "/api/notes", map[string]any{"text": "private"}, owner...)
		require.Equal(t, http.StatusCreated, private.status, string(private.raw))
		seen, unseen := "/api/notes/"+shared.body["id"].(string), "/api/notes/"+private.body["id"].(string)
		require.Equal(t, http.StatusOK, b.do("GET", seen, nil, other...).status)
		require.Equal(t, http.StatusNotFound, b.do("GET", unseen, nil, other...).status)

		for _, c := range []struct {
			method, suffix string
			body           any
		}{
			{"PATCH", "", map[string]any{"text": "changed"}},
			{"PUT", "", map[string]any{"text": "changed"}},
			{"DELETE", "", nil},
			{"POST", "/close", map[string]any{}},
		} {
			res := b.do(c.method, seen+c.suffix, c.body, other...)
			require.Equal(t, http.StatusForbidden, res.status, "%s %s: %s", c.method, c.suffix, res.raw)
			require.Equal(t, "forbidden", res.body["error"], string(res.raw))
			res = b.do(c.method, unseen+c.suffix, c.body, other...)
			require.Equal(t, http.StatusNotFound, res.status, "%s %s: %s", c.method, c.suffix, res.raw)
			require.Equal(t, "not_found", res.body["error"], string(res.raw))
		}
		res := b.upload(seen+"/files/attachment", "a.txt", []byte("hello"), other...)
		require.Equal(t, http.StatusForbidden, res.status, string(res.raw))
		require.Equal(t, http.StatusNotFound, b.upload(unseen+"/files/attachment", "a.txt", []byte("hello"), other...).status)

		batch := b.do("POST", "/api/batch", map[string]any{"operations": []any{
			op("POST", "/api/notes", map[string]any{"text": "mine"}),
			op("PATCH", seen, map[string]any{"text": "changed"}),
		}}, other...)
		require.Equal(t, http.StatusForbidden, batch.status, string(batch.raw))
		require.EqualValues(t, 0, b.countWhere("notes", "text", "mine"), "all or nothing")
		batch = b.do("POST", "/api/batch", map[string]any{"operations": []any{op("DELETE", unseen, nil)}}, other...)
		require.Equal(t, http.StatusNotFound, batch.status, string(batch.raw))

		for _, path := range []string{seen, unseen} {
			got := b.do("GET", path, nil, owner...)
			require.Equal(t, http.StatusOK, got.status, string(got.raw))
			require.Contains(t, []any{"shared", "private"}, got.body["text"], "unchanged")
			require.Equal(t, false, got.body["closed"])
			require.Nil(t, got.body["attachment"])
		}
		unknown := "/api/notes/0192f0a0-0000-7000-8000-00000000dead"
		require.Equal(t, http.StatusNotFound, b.do("PATCH", unknown, map[string]any{"text": "x"}, other...).status)
		require.Equal(t, http.StatusOK, b.do("PATCH", seen, map[string]any{"text": "mine to change"}, owner...).status)
	})
}

// A refused action is named as the spec names it (archive), never by Kiln's internal key
// (action:archive), whether the refusal is the role's or the record's.
func TestActionRefusalNamesTheAction(t *testing.T) {
	t.Parallel()
	src := strings.Replace(seenSpec, "    actions:\n      close:",
		"    actions:\n      archive:\n        access: \"auth.role == 'admin'\"\n        steps:\n          - set: {closed: \"true\"}\n      close:", 1)
	b := setup(t, "sqlite", src)
	owner, other := bearer(b.token("member")), bearer(b.token("member"))
	note := b.do("POST", "/api/notes", map[string]any{"text": "shared", "shared": true}, owner...)
	require.Equal(t, http.StatusCreated, note.status, string(note.raw))
	path := "/api/notes/" + note.body["id"].(string)
	res := b.do("POST", path+"/archive", map[string]any{}, owner...)
	require.Equal(t, http.StatusForbidden, res.status, string(res.raw))
	require.Equal(t, "archive on notes is not allowed", res.body["detail"])
	res = b.do("POST", path+"/close", map[string]any{}, other...)
	require.Equal(t, http.StatusForbidden, res.status, string(res.raw))
	require.Equal(t, "close on this notes record is not allowed", res.body["detail"])
	res = b.do("POST", path+"/archive", map[string]any{}, "Authorization", "")
	require.Equal(t, http.StatusUnauthorized, res.status, string(res.raw))
	require.Equal(t, "sign in to archive notes", res.body["detail"])
}

// A write reaches only records the caller may also view: a moderator whose update rule takes
// every note, but whose view rule shows only his own, read another's note whole in the answer
// to an empty PATCH (a new user's trial). Now that note is 404 to every write, as to a read;
// his own notes, and the notes the view rule shows, he still changes.
func TestWriteReachesOnlyRecordsTheCallerMayView(t *testing.T) {
	t.Parallel()
	src := `roles: [admin, member, moderator]
auth: {account: members, signup: open, default_role: member}
resources:
  members:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  notes:
    fields:
      owner: {type: relation, to: members, default: auth.id, readonly: true}
      text: {type: string, required: true}
      flagged: {type: boolean, default: false}
    actions:
      flag:
        access: "auth.role == 'moderator' || record.owner == auth.id"
        steps:
          - set: {flagged: "true"}
    access:
      list: "record.owner == auth.id"
      view: "record.owner == auth.id"
      create: [member, moderator]
      update: "auth.role == 'moderator' || record.owner == auth.id"
      delete: "auth.role == 'moderator' || record.owner == auth.id"
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		member, mod := bearer(b.token("member")), bearer(b.token("moderator"))
		note := b.do("POST", "/api/notes", map[string]any{"text": "private"}, member...)
		require.Equal(t, http.StatusCreated, note.status, string(note.raw))
		path := "/api/notes/" + note.body["id"].(string)
		for _, c := range []struct {
			method, suffix string
			body           any
		}{{"GET", "", nil}, {"PATCH", "", map[string]any{}}, {"PUT", "", map[string]any{"text": "x"}}, {"POST", "/flag", map[string]any{}}, {"DELETE", "", nil}} {
			res := b.do(c.method, path+c.suffix, c.body, mod...)
			require.Equal(t, http.StatusNotFound, res.status, "%s %s: %s", c.method, c.suffix, res.raw)
			require.NotContains(t, string(res.raw), "private", "nothing of the note in the answer")
		}
		res := b.do("POST", "/api/batch", map[string]any{"operations": []any{op("PATCH", path, map[string]any{})}}, mod...)
		require.Equal(t, http.StatusNotFound, res.status, string(res.raw))
		require.NotContains(t, string(res.raw), "private")
		own := b.do("POST", "/api/notes", map[string]any{"text": "mine"}, mod...)
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/notes/"+own.body["id"].(string), map[string]any{"text": "mine, changed"}, mod...).status)
		require.Equal(t, http.StatusOK, b.do("PATCH", path, map[string]any{"text": "still mine"}, member...).status)
	})
}
