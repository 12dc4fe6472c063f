package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"
)

// ids lists the ids of a list answer's records.
func ids(res response) []string {
	var out []string
	for _, r := range res.body["items"].([]any) {
		out = append(out, r.(map[string]any)["id"].(string))
	}
	return out
}

// A soft-deleted record vanishes from get, list, count and the trash is listed for those who
// may restore; restore brings it back with its values.
func TestSoftDeleteHidesAndRestores(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		keep := b.create("books", map[string]any{"title": "Kept"})
		gone := b.create("books", map[string]any{"title": "Gone", "isbn": "9780000000001"})
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/books/"+gone, nil).status)

		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/books/"+gone, nil).status)
		require.Equal(t, http.StatusNotFound, b.do("DELETE", "/api/books/"+gone, nil).status)
		require.Equal(t, http.StatusNotFound, b.do("PATCH", "/api/books/"+gone, map[string]any{"title": "x"}).status)
		list := b.do("GET", "/api/books?count=true", nil)
		require.Equal(t, []string{keep}, ids(list))
		require.Equal(t, json.Number("1"), list.body["total"])
		require.Empty(t, ids(b.do("GET", "/api/books?title=Gone", nil)))

		trash := b.do("GET", "/api/books?deleted=true&count=true", nil)
		require.Equal(t, http.StatusOK, trash.status, string(trash.raw))
		require.Equal(t, []string{gone}, ids(trash))
		member := bearer(b.token("member"))
		require.Equal(t, http.StatusForbidden, b.do("GET", "/api/books?deleted=true", nil, member...).status)
		require.Equal(t, http.StatusForbidden, b.do("POST", "/api/books/"+gone+"/restore", nil, member...).status)
		bad := b.do("GET", "/api/members?deleted=true", nil)
		require.Equal(t, http.StatusBadRequest, bad.status)
		require.Equal(t, "unknown_parameter", fieldCodes(bad.body)["deleted"])

		last := b.lastEvent()
		res := b.do("POST", "/api/books/"+gone+"/restore", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []string{"books action restore"}, summary(b.eventsAfter(last)), "the restore is in the outbox")
		require.Equal(t, "9780000000001", res.body["isbn"])
		require.Equal(t, http.StatusOK, b.do("GET", "/api/books/"+gone, nil).status)
		require.ElementsMatch(t, []string{keep, gone}, ids(b.do("GET", "/api/books", nil)))
		require.Equal(t, http.StatusNotFound, b.do("POST", "/api/books/"+gone+"/restore", nil).status, "a live record is not in the trash")
		require.Equal(t, http.StatusMethodNotAllowed, b.do("GET", "/api/books/"+gone+"/restore", nil).status)
		require.Equal(t, http.StatusNotFound, b.do("POST", "/api/fines/"+gone+"/restore", nil).status, "fines are deleted for good")
	})
}

// A deleted record does not hold its unique values; restoring it while they are taken is 409.
func TestSoftDeleteUniqueValues(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		first := b.create("books", map[string]any{"title": "A", "isbn": "9780000000002"})
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/books/"+first, nil).status)
		second := b.create("books", map[string]any{"title": "B", "isbn": "9780000000002"})
		res := b.do("POST", "/api/books/"+first+"/restore", nil)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "conflict", res.body["error"])
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/books/"+first, nil).status, "nothing was restored")
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/books/"+second, nil).status)
		require.Equal(t, http.StatusOK, b.do("POST", "/api/books/"+first+"/restore", nil).status)
	})
}

// Relations: a deleted author leaves the books' author lists and membership filters, a
// deleted book is not expanded, new references to deleted records are refused, and records
// that reference one keep their reference.
func TestSoftDeleteRelations(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		a1 := b.create("authors", map[string]any{"name": "One"})
		a2 := b.create("authors", map[string]any{"name": "Two"})
		book := b.create("books", map[string]any{"title": "Both", "authors": []string{a1, a2}})
		copyID := b.create("copies", map[string]any{"book": book, "barcode": "C900001"})
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/authors/"+a1, nil).status)

		got := b.do("GET", "/api/books/"+book, nil)
		require.Equal(t, []any{a2}, got.body["authors"])
		got = b.do("GET", "/api/books/"+book+"?expand=authors", nil)
		require.Len(t, got.body["authors"], 1)
		require.Equal(t, a2, got.body["authors"].([]any)[0].(map[string]any)["id"])
		require.Empty(t, ids(b.do("GET", "/api/books?authors="+a1, nil)))
		require.Equal(t, []string{book}, ids(b.do("GET", "/api/books?authors="+a2, nil)))
		res := b.do("POST", "/api/books", map[string]any{"title": "New", "authors": []string{a1}})
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))

		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/books/"+book, nil).status, "copies keep their book")
		c := b.do("GET", "/api/copies/"+copyID, nil)
		require.Equal(t, book, c.body["book"])
		c = b.do("GET", "/api/copies/"+copyID+"?expand=book", nil)
		require.Equal(t, http.StatusOK, c.status, string(c.raw))
		require.Nil(t, c.body["book"], "a deleted record expands as null")
		res = b.do("POST", "/api/copies", map[string]any{"book": book, "barcode": "C900002"})
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, http.StatusOK, b.do("POST", "/api/authors/"+a1+"/restore", nil).status)
		require.Equal(t, http.StatusOK, b.do("POST", "/api/books/"+book+"/restore", nil).status)
		got = b.do("GET", "/api/books/"+book, nil)
		require.Equal(t, []any{a1, a2}, got.body["authors"], "links come back in their order")
	})
}

// Rules across records do not see deleted records; restore checks the create rules again,
// and a delete rule can keep a record from going.
func TestSoftDeleteRules(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		c := b.copies(1)[0]
		tok := bearer(b.token("member"))
		loan := b.do("POST", "/api/loans", map[string]any{"copy": c}, tok...)
		require.Equal(t, http.StatusCreated, loan.status, string(loan.raw))
		del := b.do("DELETE", "/api/copies/"+c, nil)
		require.Equal(t, http.StatusConflict, del.status, "a copy on loan cannot be deleted: %s", del.raw)
		require.Equal(t, "copy_on_loan", del.body["error"], string(del.raw))

		first := loan.body["id"].(string)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/loans/"+first, nil).status)
		second := b.do("POST", "/api/loans", map[string]any{"copy": c}, tok...)
		require.Equal(t, http.StatusCreated, second.status, "the deleted loan does not hold the copy: %s", second.raw)
		res := b.do("POST", "/api/loans/"+first+"/restore", nil)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "copy_on_loan", res.body["error"], string(res.raw))
	})
}

// Purge removes what passed its retention and keeps what is still referenced; turning
// soft_delete off in the spec removes deleted records rather than bringing them back.
func TestSoftDeletePurge(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		alone := b.create("books", map[string]any{"title": "Alone"})
		held := b.create("books", map[string]any{"title": "Held"})
		b.create("copies", map[string]any{"book": held, "barcode": "C900003"})
		recent := b.create("authors", map[string]any{"name": "Recent"})
		for _, p := range []string{"/api/books/" + alone, "/api/books/" + held, "/api/authors/" + recent} {
			require.Equal(t, http.StatusNoContent, b.do("DELETE", p, nil).status)
		}
		ctx := context.Background()
		n, err := b.app.Service.Purge(ctx, time.Now().Add(24*time.Hour), 100)
		require.NoError(t, err)
		require.Zero(t, n, "nothing has passed its retention a day later")
		n, err = b.app.Service.Purge(ctx, time.Now().Add(91*24*time.Hour), 100)
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "the unreferenced book (90 days) and the author (30 days by default)")
		require.Equal(t, []string{held}, ids(b.do("GET", "/api/books?deleted=true", nil)))
		require.Equal(t, http.StatusNotFound, b.do("POST", "/api/books/"+alone+"/restore", nil).status)
		require.Equal(t, http.StatusOK, b.do("POST", "/api/books/"+held+"/restore", nil).status)
	})
}

// The OpenAPI document describes restore and ?deleted=, and their real answers validate.
func TestSoftDeleteOpenAPI(t *testing.T) {
	t.Parallel()
	b := library(t, "sqlite")
	res := b.do("GET", "/api/openapi.json", nil)
	doc, err := libopenapi.NewDocument(res.raw)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "%v", verrs)
	require.Contains(t, res.body["paths"], "/api/books/{id}/restore")
	require.NotContains(t, res.body["paths"], "/api/fines/{id}/restore")
	book := b.create("books", map[string]any{"title": "Documented"})
	require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/books/"+book, nil).status)
	for _, ex := range []struct{ method, path string }{
		{"GET", "/api/books?deleted=true&count=true"},
		{"POST", "/api/books/" + book + "/restore"},
		{"POST", "/api/books/" + book + "/restore"}, // 404 now
	} {
		req, err := http.NewRequest(ex.method, b.srv.URL+ex.path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+b.admin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		vreq, _ := http.NewRequest(ex.method, ex.path, nil)
		ok, verrs := v.ValidateHttpResponse(vreq, resp)
		require.True(t, ok, "%s %s -> %d %s: %v", ex.method, ex.path, resp.StatusCode, raw, describeErrs(verrs))
	}
}

// shortLivedNotes: public notes, soft-deleted and purged a second after.
const shortLivedNotes = `resources:
  notes:
    soft_delete: true
    retention: 1s
    fields:
      text: string
    access: {list: public, view: public, create: public, update: public, delete: public}
`

// kiln serve purges on its own: a record deleted with a retention of one second is gone
// from the database a few seconds later.
func TestServePurgesSoftDeletedRecords(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", shortLivedNotes)
	id := b.create("notes", map[string]any{"text": "short-lived"})
	require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/notes/"+id, nil).status)
	raw := func() int { return int(b.rawCount("notes")) }
	require.Equal(t, 1, raw(), "kept after the delete")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.app.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return raw() == 0 }, 15*time.Second, 100*time.Millisecond, "purged by serve")
}

// A delete the database refuses because records still refer to the record through a required
// relation names those relations (SQLite's error does not), also when the referring record is
// soft-deleted; an optional relation is cleared and never named.
func TestDeleteOfAReferencedRecordNamesTheRelation(t *testing.T) {
	t.Parallel()
	src := `resources:
  teams:
    fields:
      name: string
    access: {list: public, view: public, create: public, update: public, delete: public}
  players:
    soft_delete: true
    fields:
      team: {type: relation, to: teams, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
  fans:
    fields:
      team: {type: relation, to: teams}
    access: {list: public, view: public, create: public, update: public, delete: public}
`
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		team := b.create("teams", map[string]any{"name": "Reds"})
		b.create("fans", map[string]any{"team": team})
		player := b.create("players", map[string]any{"team": team})
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/players/"+player, nil).status)
		res := b.do("DELETE", "/api/teams/"+team, nil)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, map[string]string{"players.team": "referenced"}, fieldCodes(res.body), string(res.raw))
		require.Contains(t, res.body["detail"], "players.team", string(res.raw))
		require.Contains(t, string(res.raw), "from deleted records", "a deleted referrer is told apart")
		require.NotContains(t, string(res.raw), player, "the referring records are not named")
		require.Equal(t, http.StatusOK, b.do("GET", "/api/teams/"+team, nil).status, "nothing was deleted")

		b.create("players", map[string]any{"team": team})
		batch := b.do("POST", "/api/batch", map[string]any{"operations": []any{op("DELETE", "/api/teams/"+team, nil)}})
		require.Equal(t, http.StatusConflict, batch.status, string(batch.raw))
		require.Contains(t, string(batch.raw), "players.team", "a batch's delete names the relation too")
		require.Contains(t, string(batch.raw), "delete those records or point them elsewhere first", string(batch.raw))
		// Looked up after each batch's transaction: inside it, 40 at once held every pooled
		// connection while waiting for another (PostgreSQL answered 503 query_timeout).
		counts := statusCounts(40, func(int) int {
			return b.do("POST", "/api/batch", map[string]any{"operations": []any{op("DELETE", "/api/teams/"+team, nil)}}).status
		})
		require.Equal(t, map[int]int{http.StatusConflict: 40}, counts)
	})
}

// A restore under If-Match takes the record's last tag before its delete (the delete raised the
// version, and no answer names the deleted record's); an older tag, or the last one once the
// record was restored and deleted again, is 412 and restores nothing.
func TestRestoreUnderTheLastTagBeforeTheDelete(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		author := b.create("authors", map[string]any{"name": "A1"})
		book := b.create("books", map[string]any{"title": "T", "authors": []string{author}})
		path := "/api/books/" + book
		first := b.etag(path)
		require.Equal(t, http.StatusOK, b.do("PATCH", path, map[string]any{"title": "T2"}).status)
		last := b.etag(path)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", path, nil, "If-Match", last).status)

		res := b.do("POST", path+"/restore", nil, "If-Match", first)
		require.Equal(t, http.StatusPreconditionFailed, res.status, string(res.raw))
		require.Equal(t, http.StatusNotFound, b.do("GET", path, nil).status, "a refused restore restores nothing")
		res = b.do("POST", path+"/restore", nil, "If-Match", last)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		again := res.header.Get("ETag")
		require.Equal(t, b.etag(path), again)

		require.Equal(t, http.StatusNoContent, b.do("DELETE", path, nil, "If-Match", again).status)
		require.Equal(t, http.StatusPreconditionFailed, b.do("POST", path+"/restore", nil, "If-Match", last).status)
		require.Equal(t, http.StatusOK, b.do("POST", path+"/restore", nil, "If-Match", again).status)
	})
}
