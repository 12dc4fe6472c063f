package kiln_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// notModified asserts a 304 without a body, whose ETag is one of the tags sent (weakly).
func (b *testBundle) notModified(path, tags string, headers ...string) {
	b.t.Helper()
	res := b.do("GET", path, nil, append([]string{"If-None-Match", tags}, headers...)...)
	require.Equal(b.t, http.StatusNotModified, res.status, string(res.raw))
	require.Empty(b.t, res.raw)
	got := strings.TrimPrefix(res.header.Get("ETag"), "W/")
	require.NotEmpty(b.t, got)
	if tags != "*" {
		require.Contains(b.t, tags, got)
	}
}

// modified asserts a 200 with a body whose ETag is not tag, and returns the new ETag.
func (b *testBundle) modified(path, tag string, headers ...string) string {
	b.t.Helper()
	res := b.do("GET", path, nil, append([]string{"If-None-Match", tag}, headers...)...)
	require.Equal(b.t, http.StatusOK, res.status, string(res.raw))
	require.NotEmpty(b.t, res.body)
	require.NotEqual(b.t, tag, res.header.Get("ETag"))
	return res.header.Get("ETag")
}

func (b *testBundle) storedVersion(resource, id string) int64 {
	b.t.Helper()
	rows, err := b.app.Store.Reader().QueryRaw(context.Background(), `SELECT "kiln_version" FROM "`+resource+`" WHERE "id" = ?`, id)
	require.NoError(b.t, err)
	defer rows.Close()
	require.True(b.t, rows.Next())
	var v int64
	require.NoError(b.t, rows.Scan(&v))
	return v
}

func (b *testBundle) etag(path string, headers ...string) string {
	b.t.Helper()
	res := b.do("GET", path, nil, headers...)
	require.Equal(b.t, http.StatusOK, res.status, string(res.raw))
	tag := res.header.Get("ETag")
	require.NotEmpty(b.t, tag)
	return tag
}

// A record's ETag follows its representation: the version for the default one, and a tag of
// its own for each field selection and expansion; If-None-Match compares weakly and takes lists.
func TestConditionalGetOnRecords(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		id := b.create("products", map[string]any{"name": "Boot", "price": 10})
		path := "/api/products/" + id
		require.Equal(t, `"1"`, b.etag(path))
		b.notModified(path, `"1"`)
		b.notModified(path, `W/"1"`)
		b.notModified(path, `"0", "1"`)
		b.notModified(path, `*`)
		b.modified(path, `"2"`)

		names, prices := b.etag(path+"?fields=name"), b.etag(path+"?fields=price")
		require.NotEqual(t, names, prices, "another field selection is another representation")
		require.NotEqual(t, `"1"`, names)
		b.notModified(path+"?fields=name", names)
		b.modified(path+"?fields=name", `"1"`)

		res := b.do("PATCH", path, map[string]any{"price": 11}, "If-Match", names) // the version is what writes check
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, `"2"`, res.header.Get("ETag"))
		b.modified(path, `"1"`)
		b.modified(path+"?fields=name", names)
		b.notModified(path, `"2"`)
	})
}

// Expanded records and relation values are part of the tag: renaming the category changes
// the expanded read's tag but not the plain one, and deleting the category (which clears the
// product's relation without a new version) changes both.
func TestConditionalGetFollowsRelations(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		cat := b.create("categories", map[string]any{"name": "Shoes", "slug": "shoes"})
		id := b.create("products", map[string]any{"name": "Boot", "price": 10, "category": cat})
		path, expanded := "/api/products/"+id, "/api/products/"+id+"?expand=category"
		plain, exp := b.etag(path), b.etag(expanded)
		require.NotEqual(t, plain, exp)

		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/categories/"+cat, map[string]any{"name": "Boots"}).status)
		b.notModified(path, plain)
		exp2 := b.modified(expanded, exp)
		b.notModified(expanded, exp2)

		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/categories/"+cat, nil).status)
		after := b.do("GET", path, nil)
		require.Nil(t, after.body["category"])
		require.Equal(t, int64(1), b.storedVersion("products", id), "the relation was cleared by the database, not by a write")
		b.modified(path, plain)
		b.modified(expanded, exp2)
	})
}

// A list page's weak ETag changes with its query, its records, its cursor and its total, and
// not when a record off the page is written.
func TestConditionalGetOnListPages(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		ids := b.bulkProducts(5, "")
		page := "/api/products?limit=2"
		tag := b.etag(page)
		require.Regexp(t, `^W/"[0-9a-f]+"$`, tag)
		b.notModified(page, tag)
		b.notModified(page, `"x", `+tag)
		require.NotEqual(t, tag, b.etag("/api/products?limit=3"))
		require.NotEqual(t, tag, b.etag(page+"&fields=name"))

		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/products/"+ids[4], map[string]any{"price": 1}).status)
		b.notModified(page, tag) // ids[4] is not on the first page (sorted by id)
		counted := b.etag(page + "&count=true")
		b.create("products", map[string]any{"name": "Later", "price": 2})
		b.notModified(page, tag)
		b.modified(page+"&count=true", counted)

		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/products/"+ids[0], map[string]any{"price": 1}).status)
		b.modified(page, tag)
	})
}

const etagNotesSpec = `name: notes
roles: [admin, member]
auth: {account: users, signup: "off"}
resources:
  users:
    fields:
      name: string
    access:
      list: "auth.role == 'admin' || record.id == auth.id"
      view: "auth.role == 'admin' || record.id == auth.id"
      create: [admin]
      update: [admin]
      delete: [admin]
  notes:
    fields:
      title: {type: string, required: true}
      owner: {type: relation, to: users, default: auth.id, write: [admin]}
    access: {list: public, view: public, create: [member, admin], update: [admin], delete: [admin]}
`

// The same URL read by two principals who see different things gives two tags: Ann sees
// her own account expanded on her note, Bob sees null there, and Bob's If-None-Match with
// Ann's tag gets the body he may see, never a 304 on hers.
func TestConditionalGetFollowsAccessRules(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, etagNotesSpec)
		ann, bob := b.token("member"), b.token("member")
		res := b.do("POST", "/api/notes", map[string]any{"title": "ann's"}, bearer(ann)...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		for _, path := range []string{"/api/notes/" + res.body["id"].(string) + "?expand=owner", "/api/notes?expand=owner"} {
			annTag, bobTag := b.etag(path, bearer(ann)...), b.etag(path, bearer(bob)...)
			require.NotEqual(t, annTag, bobTag, path)
			b.notModified(path, annTag, bearer(ann)...)
			got := b.do("GET", path, nil, append([]string{"If-None-Match", annTag}, bearer(bob)...)...)
			require.Equal(t, http.StatusOK, got.status, path)
			require.Equal(t, bobTag, got.header.Get("ETag"), path)
		}
	})
}

// If-Match is conditional on what a record's ETag names of the stored record: its version and
// its relation values. A deleted category clears the product's relation, and a deleted tag its
// link, without a new version; a write under an ETag read before either is refused with 412 and
// changes nothing — from any representation's tag — and one under the tag read since lands.
func TestIfMatchSeesRelationsClearedWithoutAVersion(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		cat := b.create("categories", map[string]any{"name": "Shoes", "slug": "shoes"})
		tag := b.create("tags", map[string]any{"name": "winter"})
		id := b.create("products", map[string]any{"name": "Boot", "price": 10, "category": cat, "tags": []string{tag}})
		path := "/api/products/" + id
		plain, names := b.etag(path), b.etag(path+"?fields=name")
		require.NotEqual(t, `"1"`, plain, "a record with relation values names them in its tag")

		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/categories/"+cat, nil).status)
		require.Equal(t, int64(1), b.storedVersion("products", id))
		for _, stale := range []string{plain, names} {
			res := b.do("PATCH", path, map[string]any{"price": 11}, "If-Match", stale)
			require.Equal(t, http.StatusPreconditionFailed, res.status, string(res.raw))
			require.Equal(t, "precondition_failed", res.body["error"])
		}
		res := b.do("PUT", path, map[string]any{"name": "Boot", "price": 12}, "If-Match", plain)
		require.Equal(t, http.StatusPreconditionFailed, res.status, string(res.raw))
		require.Equal(t, http.StatusPreconditionFailed, b.do("DELETE", path, nil, "If-Match", plain).status)
		got := b.do("GET", path, nil)
		require.Equal(t, json.Number("10"), got.body["price"], "nothing was written")
		require.Equal(t, int64(1), b.storedVersion("products", id))

		res = b.do("PATCH", path, map[string]any{"price": 11}, "If-Match", b.etag(path+"?fields=price"))
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		written := res.header.Get("ETag")
		require.Equal(t, b.etag(path), written, "a write answers with the tag a read gives")

		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/tags/"+tag, nil).status)
		require.Equal(t, http.StatusPreconditionFailed, b.do("DELETE", path, nil, "If-Match", written).status)
		require.Equal(t, http.StatusOK, b.do("GET", path, nil).status, "the record is still there")
		require.Equal(t, `"2"`, b.etag(path), "no relation values left: the version alone")
		require.Equal(t, http.StatusNoContent, b.do("DELETE", path, nil, "If-Match", `"2"`).status)
	})
}
