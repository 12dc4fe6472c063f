package kiln_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
)

const notesSpec = "name: notes\n" + adminUsers + `  notes:
    fields:
      title: {type: string, required: true}
      body: text
      owner: {type: relation, to: users, default: auth.id, write: [admin]}
    access:
      list: "auth.role == 'admin' || record.owner == auth.id"
      view: "auth.role == 'admin' || record.owner == auth.id"
      create: [member, admin]
      update: "auth.role == 'admin' || record.owner == auth.id"
      delete: "auth.role == 'admin' || record.owner == auth.id"
`

// storedNote reads a note's title, body, owner and version by SQL.
func (b *testBundle) storedNote(id string) []any {
	b.t.Helper()
	rows, err := b.app.Store.Reader().QueryRaw(context.Background(),
		`SELECT "title", "body", "owner_id", "kiln_version" FROM "notes" WHERE "id" = ?`, id)
	require.NoError(b.t, err)
	defer rows.Close()
	if !rows.Next() {
		require.NoError(b.t, rows.Err())
		return nil
	}
	var title, body, owner any
	var version int64
	require.NoError(b.t, rows.Scan(&title, &body, &owner, &version))
	return []any{str(title), str(body), str(owner), version}
}

func str(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// Under an expression rule (owner only), another member's PATCH, PUT and DELETE of a note are
// 404 — as if it did not exist — and the row in the database is exactly as it was.
func TestOtherAccountsRecordsAreOutOfReach(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, notesSpec)
		ann, bob := b.account("member"), b.account("member")
		annTok, bobTok := b.tokenFor(ann), b.tokenFor(bob)
		res := b.do("POST", "/api/notes", map[string]any{"title": "ann's", "body": "private"}, bearer(annTok)...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		id := res.body["id"].(string)
		before := b.storedNote(id)
		require.Equal(t, []any{"ann's", "private", ann, int64(1)}, before)

		for _, tc := range []struct {
			method string
			body   any
			extra  []string
		}{
			{method: "PATCH", body: map[string]any{"title": "bob's now"}},
			{method: "PATCH", body: map[string]any{"title": "bob's now"}, extra: []string{"If-Match", `"1"`}},
			{method: "PUT", body: map[string]any{"title": "bob's now", "body": "mine"}},
			{method: "DELETE"},
			{method: "DELETE", extra: []string{"If-Match", `"1"`}},
			{method: "GET"},
		} {
			res := b.do(tc.method, "/api/notes/"+id, tc.body, append(bearer(bobTok), tc.extra...)...)
			require.Equal(t, http.StatusNotFound, res.status, "%s %v: %s", tc.method, tc.extra, res.raw)
			require.Equal(t, "not_found", res.body["error"])
			require.Equal(t, before, b.storedNote(id), "%s by another member changed nothing", tc.method)
		}
		list := b.do("GET", "/api/notes?count=true", nil, bearer(bobTok)...)
		require.Equal(t, json.Number("0"), list.body["total"])

		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/notes/"+id, map[string]any{"title": "still ann's"}, bearer(annTok)...).status)
		require.Equal(t, []any{"still ann's", "private", ann, int64(2)}, b.storedNote(id), "the owner may")
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/notes/"+id, nil, bearer(annTok)...).status)
		require.Nil(t, b.storedNote(id))
	})
}

// Cursors are client input: a well-formed cursor with values that are not Kiln's — another
// sort's, the wrong type, too many digits, SQL text, or a position among another account's
// records — is refused with a 400 naming the cursor, or pages on from that position without
// showing anything the caller may not see. Never a 500.
func TestCraftedCursors(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, notesSpec)
		ann, bob := b.account("member"), b.account("member")
		annTok, bobTok := b.tokenFor(ann), b.tokenFor(bob)
		var annIDs, bobIDs []string
		for _, title := range []string{"a", "c", "e", "g"} {
			res := b.do("POST", "/api/notes", map[string]any{"title": title}, bearer(annTok)...)
			require.Equal(t, http.StatusCreated, res.status)
			annIDs = append(annIDs, res.body["id"].(string))
			res = b.do("POST", "/api/notes", map[string]any{"title": strings.ToUpper(title) + "b"}, bearer(bobTok)...)
			require.Equal(t, http.StatusCreated, res.status)
			bobIDs = append(bobIDs, res.body["id"].(string))
		}
		cursor := func(sort string, vals ...string) string {
			raw := make([]json.RawMessage, len(vals))
			for i, v := range vals {
				raw[i] = json.RawMessage(v)
			}
			return query.EncodeCursor(sort, raw)
		}
		q := func(id string) string { return `"` + id + `"` }
		refused := map[string]string{
			"another sort":         "/api/notes?sort=-title&cursor=" + cursor("title", `"c"`, q(annIDs[1])),
			"too few values":       "/api/notes?sort=title&cursor=" + cursor("title", `"c"`),
			"too many values":      "/api/notes?cursor=" + cursor("", q(annIDs[0]), q(annIDs[1])),
			"an id that is no id":  "/api/notes?cursor=" + cursor("", `"1 OR 1=1"`),
			"a null id":            "/api/notes?cursor=" + cursor("", `null`),
			"a number for a title": "/api/notes?sort=title&cursor=" + cursor("title", `5`, q(annIDs[0])),
			"a bad time":           "/api/notes?sort=created_at&cursor=" + cursor("created_at", `"yesterday"`, q(annIDs[0])),
			"not JSON inside":      "/api/notes?cursor=" + "bm90IGpzb24",
		}
		for name, path := range refused {
			res := b.do("GET", path, nil, bearer(annTok)...)
			require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", name, res.raw)
			require.Equal(t, map[string]string{"cursor": "invalid_cursor"}, fieldCodes(res.body), name)
		}

		titles := func(res response) []string {
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			var out []string
			for _, it := range res.body["items"].([]any) {
				out = append(out, it.(map[string]any)["title"].(string))
			}
			return out
		}
		// SQL in a value is a value: titles after it in code point order.
		inj := cursor("title", `"b' OR '1'='1"`, q(annIDs[0]))
		require.Equal(t, []string{"c", "e", "g"}, titles(b.do("GET", "/api/notes?sort=title&cursor="+inj, nil, bearer(annTok)...)))
		// A position taken from Bob's records pages Ann on through her own records only.
		foreign := cursor("title", `"Cb"`, q(bobIDs[1]))
		require.Equal(t, []string{"a", "c", "e", "g"}, titles(b.do("GET", "/api/notes?sort=title&cursor="+foreign, nil, bearer(annTok)...)))
		require.Equal(t, []string{"Eb", "Gb"}, titles(b.do("GET", "/api/notes?sort=title&cursor="+foreign, nil, bearer(bobTok)...)))
	})
}

// A body is one JSON object and nothing after it: a stray } or ] used to pass as the object
// before it (found by FuzzDecodeObject).
func TestBodyWithDataAfterTheObjectIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	before := b.count("tags")
	for _, body := range []string{`{"name":"stray-brace"}}`, `{"name":"stray-bracket"}]`, `{"name":"two"}{"name":"objects"}`} {
		res := b.do("POST", "/api/tags", body)
		require.Equal(t, http.StatusBadRequest, res.status, body)
		require.Equal(t, "malformed_request", res.body["error"], body)
	}
	require.Equal(t, before, b.count("tags"), "nothing was written")
	require.Equal(t, http.StatusCreated, b.do("POST", "/api/tags", "\n {\"name\":\"spaced\"} \n").status, "whitespace around the object is fine")
}
