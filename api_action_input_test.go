package kiln_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An action's input field that is required with default: now or default: auth.id runs on the
// default when the body leaves it out, as a create's field does: actionInput took no time and
// no principal for the defaults, so both stayed empty and every call without them was 400
// required — the spec loaded (the field has a default), and a trigger or schedule running the
// action refused every record too.
func TestActionInputDefaultsNowAndAuthID(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	src := strings.Replace(string(raw), `    actions:
      # POST /api/orders/{id}/cancel`, `    actions:
      annotate:
        access: "auth.role in ['admin', 'staff'] || record.owner == auth.id"
        input:
          at: {type: datetime, required: true, default: now}
          by: {type: relation, to: users, required: true, default: auth.id}
        steps:
          - set: {notes: "string(input.at) + ' ' + input.by"}
      # POST /api/orders/{id}/cancel`, 1)
	require.NotEqual(t, string(raw), src)
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		a := b.product("A", "3", 10)
		who := b.account("customer")
		tok := bearer(b.tokenFor(who))
		order := b.do("POST", "/api/orders", map[string]any{"items": []any{item(a, 1)}}, tok...)
		require.Equal(t, http.StatusCreated, order.status, string(order.raw))
		id := order.body["id"].(string)
		before := time.Now().UTC().Add(-time.Minute)
		res := b.do("POST", "/api/orders/"+id+"/annotate", nil, tok...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		at, by, ok := strings.Cut(res.body["notes"].(string), " ")
		require.True(t, ok, res.body["notes"])
		require.Equal(t, who, by)
		when, err := time.Parse(time.RFC3339Nano, at)
		require.NoError(t, err, at)
		require.True(t, when.After(before), "%s is the time of the call", at)
	})
}
