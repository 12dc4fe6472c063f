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
