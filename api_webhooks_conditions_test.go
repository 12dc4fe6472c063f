package kiln_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/store"
)

// A subscription's when: given to the admin API is checked as the spec's are: an enum compared
// with a text none of its values is refused. One stored earlier (accepted then, or naming an
// enum value the spec has dropped since) goes on deciding as it did — it never holds, and the
// writes it is matched against land (they answered 500 once the check ran at every write, a
// review found); one that no longer compiles at all (a field the spec removed) refuses the
// write as a condition that cannot be computed, 409 logic_failed, not as internal.
func TestStoredWebhookConditionsKeepDecidingAsAccepted(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusNoContent })
	b := setupHooks(t, "sqlite", hookOpts{env: shopEnv(rc)})
	bad := b.do("POST", "/api/admin/webhooks", map[string]any{"name": "typo", "url": rc.srv.URL + "/typo",
		"events": []string{"orders.update"}, "when": "new.status == 'payed'"})
	require.Equal(t, http.StatusBadRequest, bad.status, string(bad.raw))
	require.Contains(t, string(bad.raw), `status is never \"payed\"`)

	created := b.do("POST", "/api/admin/webhooks", map[string]any{"name": "crm", "url": rc.srv.URL + "/crm",
		"events": []string{"orders.update"}, "when": "new.status == 'paid'"})
	require.Equal(t, http.StatusCreated, created.status, string(created.raw))
	store := func(cond string) { // the row as an earlier version, or an earlier spec, left it
		require.NoError(t, b.app.Store.InTx(context.Background(), func(tx *store.Exec) error {
			return tx.ExecRaw(context.Background(), "UPDATE kiln_webhooks SET condition = ? WHERE name = ?", cond, "crm")
		}))
	}
	store("new.status == 'archived'")
	custID := b.create("customers", map[string]any{"email": "a@example.com", "name": "A"})
	orderID := b.create("orders", map[string]any{"customer": custID})
	up := b.do("PATCH", "/api/orders/"+orderID, map[string]any{"notes": "hello"})
	require.Equal(t, http.StatusOK, up.status, string(up.raw))

	store("new.colour == 'red'")
	up = b.do("PATCH", "/api/orders/"+orderID, map[string]any{"notes": "again"})
	require.Equal(t, http.StatusConflict, up.status, string(up.raw))
	require.Equal(t, "logic_failed", up.body["error"])
	require.Equal(t, "hello", b.do("GET", "/api/orders/"+orderID, nil).body["notes"], "nothing was written")
	rows, err := b.app.Store.Reader().QueryRaw(context.Background(), "SELECT count(*) FROM kiln_webhook_messages")
	require.NoError(t, err)
	defer rows.Close()
	var staged int
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&staged))
	require.Zero(t, staged, "a condition that never holds stages no delivery")

	// A server started on this database says so at start, naming the subscription.
	logs := &lockedBuffer{}
	env := shopEnv(rc)
	again, err := kiln.New(context.Background(), kiln.Config{SpecPath: filepath.Join(b.dataDir, "kiln.yaml"), DataDir: b.dataDir,
		MigrationsDir: filepath.Join(b.dataDir, "migrations"), Dev: true, AuthSecret: testSecret,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:    slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	require.NoError(t, again.Close())
	require.Contains(t, logs.String(), "no longer compiles against the spec")
	require.Contains(t, logs.String(), `"webhook":"crm"`)
	require.Contains(t, logs.String(), "colour")
}

// A file field reaches a webhook as JSON — its file's description: what the API shows but the
// URLs — not as the text its column holds (a string of JSON, with PostgreSQL's spaces on
// PostgreSQL: a new user's trial), in the same bytes on both dialects.
func TestWebhookPayloadCarriesFilesAsJSON(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusNoContent })
		b := setupHooks(t, dialect, hookOpts{env: shopEnv(rc)})
		sub := b.do("POST", "/api/admin/webhooks", map[string]any{"name": "catalog", "url": rc.srv.URL + "/catalog",
			"events": []string{"products.update"}})
		require.Equal(t, http.StatusCreated, sub.status, string(sub.raw))
		product := b.create("products", map[string]any{"name": "Globe", "price": "5"})
		up := b.upload("/api/products/"+product+"/files/image", "globe.png", testPNG(t, 640, 480))
		require.Less(t, up.status, 300, string(up.raw))
		waitFor(t, func() bool { return len(rc.deliveries()) >= 1 })
		body := rc.deliveries()[0].body
		require.Contains(t, string(body), `"image":{"height":480,"id":"`, "an object, keys in one order: %s", body)
		var p struct {
			Data struct {
				Old, New map[string]any
			}
		}
		require.NoError(t, json.Unmarshal(body, &p))
		require.Nil(t, p.Data.Old["image"], "no file before the upload")
		img, ok := p.Data.New["image"].(map[string]any)
		require.True(t, ok, "%s", body)
		require.Equal(t, "globe.png", img["name"])
		require.Equal(t, "image/png", img["type"])
		require.EqualValues(t, 640, img["width"])
		require.Equal(t, []any{"400x400", "100x100"}, img["thumbnails"])
		require.NotContains(t, img, "url", "URLs come from the API")
	})
}
