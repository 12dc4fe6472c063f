package kiln_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// staysSpec: bookings → units → properties → owners, units ↔ amenities. Members see every
// booking and amenity, the units that are not private, the properties that are listed, and no
// owner at all.
const staysSpec = `name: stays
roles: [admin, member]
auth: {account: users, signup: "off"}
resources:
  users:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  owners:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  properties:
    fields:
      name: {type: string, required: true}
      listed: {type: boolean, default: true}
      owner: {type: relation, to: owners}
      units: {type: relation, to: units, inverse: property}
    access:
      list: "record.listed || auth.role == 'admin'"
      view: "record.listed || auth.role == 'admin'"
      create: [admin]
      update: [admin]
      delete: [admin]
  amenities:
    fields:
      name: {type: string, required: true}
      units: {type: relation, to: units, inverse: amenities}
    access: {list: [admin, member], view: [admin, member], create: [admin], update: [admin], delete: [admin]}
  units:
    fields:
      name: {type: string, required: true}
      private: {type: boolean, default: false}
      property: {type: relation, to: properties}
      amenities: {type: relation, to: amenities, many: true}
      bookings: {type: relation, to: bookings, inverse: unit}
    access:
      list: "!record.private || auth.role == 'admin'"
      view: "!record.private || auth.role == 'admin'"
      create: [admin]
      update: [admin]
      delete: [admin]
  bookings:
    fields:
      ref: {type: string, required: true}
      unit: {type: relation, to: units}
    access: {list: [admin, member], view: [admin, member], create: [admin], update: [admin], delete: [admin]}
`

// stays holds the ids of a staysSpec world: property[0] listed, property[1] not; unit[0] in
// property[0] with both amenities, unit[1] in property[1], unit[2] private in property[0];
// booking[i] of unit[i%3].
type stays struct {
	owner                            string
	property, unit, amenity, booking []string
}

func newStays(b *testBundle, bookings int) stays {
	b.t.Helper()
	var s stays
	s.owner = b.create("owners", map[string]any{"name": "Olga"})
	s.property = []string{
		b.create("properties", map[string]any{"name": "Seaview", "owner": s.owner}),
		b.create("properties", map[string]any{"name": "Hidden", "listed": false, "owner": s.owner}),
	}
	s.amenity = []string{b.create("amenities", map[string]any{"name": "wifi"}), b.create("amenities", map[string]any{"name": "pool"})}
	s.unit = []string{
		b.create("units", map[string]any{"name": "U0", "property": s.property[0], "amenities": []string{s.amenity[1], s.amenity[0]}}),
		b.create("units", map[string]any{"name": "U1", "property": s.property[1], "amenities": []string{s.amenity[0]}}),
		b.create("units", map[string]any{"name": "U2", "property": s.property[0], "private": true}),
	}
	for i := range bookings {
		s.booking = append(s.booking, b.create("bookings", map[string]any{"ref": fmt.Sprintf("B%02d", i), "unit": s.unit[i%3]}))
	}
	return s
}

// obj reads key of m as an object (an expanded to-one relation).
func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	require.True(t, ok, "%s should be an expanded record, is %v", key, m[key])
	return v
}

// names reads key of m as a list of expanded records and returns their names.
func names(t *testing.T, m map[string]any, key string) []string {
	t.Helper()
	list, ok := m[key].([]any)
	require.True(t, ok, "%s should be a list, is %v", key, m[key])
	out := []string{}
	for _, it := range list {
		out = append(out, it.(map[string]any)["name"].(string))
	}
	return out
}

// A dotted path expands the related records' own relations, to-one, to-many and inverse,
// on a list page and on a single record, with one query per relation of the path per page.
func TestExpandNestedPaths(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, staysSpec)
		s := newStays(b, 20)

		res := b.do("GET", "/api/bookings?limit=20&sort=ref&expand=unit.property.owner,unit.amenities", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		items := res.body["items"].([]any)
		require.Len(t, items, 20)
		for i, it := range items {
			unit := obj(t, it.(map[string]any), "unit")
			require.Equal(t, s.unit[i%3], unit["id"])
			property := obj(t, unit, "property")
			require.Equal(t, "Olga", obj(t, property, "owner")["name"], "three levels deep")
			require.NotContains(t, property, "units", "an inverse not expanded is left out, as one level deep")
			require.NotContains(t, unit, "bookings")
		}
		first := items[0].(map[string]any)
		require.Equal(t, []string{"pool", "wifi"}, names(t, obj(t, first, "unit"), "amenities"), "link order is kept")

		res = b.do("GET", "/api/bookings/"+s.booking[1]+"?expand=unit.property", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		property := obj(t, obj(t, res.body, "unit"), "property")
		require.Equal(t, "Hidden", property["name"])
		require.Equal(t, s.owner, property["owner"], "a relation not expanded is an id")

		// Below a to-one, a to-many and an inverse: two paths may hold one list each, not one two.
		res = b.do("GET", "/api/bookings/"+s.booking[0]+"?expand=unit.amenities,unit.bookings", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []string{"pool", "wifi"}, names(t, obj(t, res.body, "unit"), "amenities"))
		require.Len(t, obj(t, res.body, "unit")["bookings"], 7)
		res = b.do("GET", "/api/properties/"+s.property[0]+"?expand=units.property,units.bookings", nil)
		require.Equal(t, http.StatusBadRequest, res.status, "units.bookings holds two lists (inverse, then inverse): "+string(res.raw))

		// An inverse, then a to-one below it; an N:M inverse, then a to-one below it.
		res = b.do("GET", "/api/properties/"+s.property[0]+"?expand=units.property", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []string{"U0", "U2"}, names(t, res.body, "units"))
		for _, u := range res.body["units"].([]any) {
			require.Equal(t, "Seaview", obj(t, u.(map[string]any), "property")["name"])
		}
		res = b.do("GET", "/api/amenities?sort=name&expand=units.property", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		pool, wifi := res.body["items"].([]any)[0].(map[string]any), res.body["items"].([]any)[1].(map[string]any)
		require.Equal(t, []string{"U0"}, names(t, pool, "units"))
		require.Equal(t, []string{"U0", "U1"}, names(t, wifi, "units"))
		require.Equal(t, "Hidden", obj(t, wifi["units"].([]any)[1].(map[string]any), "property")["name"])
		require.Equal(t, "Seaview", obj(t, pool["units"].([]any)[0].(map[string]any), "property")["name"], "a record under two parents is expanded under both")

	})
}

// Each level costs one query per page, whatever the page's size: unit.property is two queries
// more than no expand, unit.property.owner three, never one per record.
func TestExpandNestedRunsOneQueryPerLevel(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, staysSpec)
		newStays(b, 20)
		queries := func(query string) int64 {
			before := b.app.Store.Queries()
			res := b.do("GET", "/api/bookings?"+query, nil)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			return b.app.Store.Queries() - before
		}
		for _, limit := range []int{2, 20} {
			plain := queries(fmt.Sprintf("limit=%d", limit))
			require.Equal(t, plain+1, queries(fmt.Sprintf("limit=%d&expand=unit", limit)), "limit %d", limit)
			require.Equal(t, plain+2, queries(fmt.Sprintf("limit=%d&expand=unit.property", limit)), "limit %d", limit)
			require.Equal(t, plain+3, queries(fmt.Sprintf("limit=%d&expand=unit.property.owner", limit)), "limit %d", limit)
			require.Equal(t, plain+3, queries(fmt.Sprintf("limit=%d&expand=unit.property,unit.amenities", limit)), "unit is read once for both paths")
		}
	})
}

// Records at every level obey their own resource's view rule: a member sees a unlisted
// property as null under its unit, a private unit as null under its booking (and nothing below
// it); a path through owners, which members may not view at all, is refused as one level is.
func TestExpandNestedFollowsViewRules(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, staysSpec)
		s := newStays(b, 3)
		member := bearer(b.token("member"))

		res := b.do("GET", "/api/bookings?sort=ref&expand=unit.property", nil, member...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		items := res.body["items"].([]any)
		require.Len(t, items, 3)
		require.Equal(t, "Seaview", obj(t, obj(t, items[0].(map[string]any), "unit"), "property")["name"])
		hidden := obj(t, items[1].(map[string]any), "unit")
		require.Contains(t, hidden, "property")
		require.Nil(t, hidden["property"], "an unlisted property expands as null, as one level deep")
		require.Nil(t, items[2].(map[string]any)["unit"], "a private unit expands as null")

		one := b.do("GET", "/api/units/"+s.unit[1]+"?expand=property", nil, member...)
		require.Equal(t, http.StatusOK, one.status, string(one.raw))
		require.Nil(t, one.body["property"], "the same answer one level deep")

		res = b.do("GET", "/api/bookings/"+s.booking[1]+"?expand=unit.property", nil, member...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Nil(t, obj(t, res.body, "unit")["property"])

		res = b.do("GET", "/api/properties?expand=units.property", nil, member...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Len(t, res.body["items"], 1)
		require.Equal(t, []string{"U0"}, names(t, res.body["items"].([]any)[0].(map[string]any), "units"), "the private unit is left out")

		refused := b.do("GET", "/api/properties/"+s.property[0]+"?expand=owner", nil, member...)
		require.Equal(t, http.StatusForbidden, refused.status, string(refused.raw))
		for _, path := range []string{"/api/bookings?expand=unit.property.owner", "/api/bookings/" + s.booking[0] + "?expand=unit.property.owner",
			"/api/bookings/" + s.booking[2] + "?expand=unit.property.owner"} {
			res := b.do("GET", path, nil, member...)
			require.Equal(t, refused.status, res.status, path+": "+string(res.raw))
			require.Equal(t, refused.body["error"], res.body["error"], path)
		}
	})
}

// ?fields= keeps working with dotted paths: the path's first relation is returned though
// fields does not name it, and the records below show all their fields.
func TestExpandNestedWithFields(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, staysSpec)
		s := newStays(b, 1)
		for _, path := range []string{"/api/bookings/" + s.booking[0], "/api/bookings"} {
			res := b.do("GET", path+"?fields=ref&expand=unit.property", nil)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
			rec := res.body
			if items, ok := res.body["items"].([]any); ok {
				rec = items[0].(map[string]any)
			}
			keys := make([]string, 0, len(rec))
			for k := range rec {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			require.Equal(t, []string{"created_at", "id", "ref", "unit", "updated_at"}, keys, path)
			unit := obj(t, rec, "unit")
			require.Equal(t, "U0", unit["name"])
			require.Contains(t, unit, "amenities")
			require.Equal(t, "Seaview", obj(t, unit, "property")["name"])
		}
	})
}

// The ETag covers every level: renaming the property changes the tag of a booking read with
// unit.property (record and list page) but not with unit alone, and renaming the owner only
// with unit.property.owner; deleting the property, which clears the unit's relation without a
// new version of either record, changes them all.
func TestExpandNestedETag(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, staysSpec)
		s := newStays(b, 1)
		one, deep := "/api/bookings/"+s.booking[0]+"?expand=unit", "/api/bookings/"+s.booking[0]+"?expand=unit.property"
		page := "/api/bookings?expand=unit.property"
		oneTag, deepTag, pageTag := b.etag(one), b.etag(deep), b.etag(page)
		require.NotEqual(t, oneTag, deepTag)

		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/properties/"+s.property[0], map[string]any{"name": "Bayview"}).status)
		b.notModified(one, oneTag)
		deepTag = b.modified(deep, deepTag)
		pageTag = b.modified(page, pageTag)
		b.notModified(deep, deepTag)
		b.notModified(page, pageTag)

		ownerTag := b.etag(deep + ".owner")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/owners/"+s.owner, map[string]any{"name": "Oleg"}).status)
		b.notModified(deep, deepTag)
		b.modified(deep+".owner", ownerTag) // the third level

		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/properties/"+s.property[0], nil).status)
		b.modified(one, oneTag) // the unit's relation value changed: it is part of unit's tag already
		b.modified(deep, deepTag)
		b.modified(page, pageTag)
	})
}

// A bad path — an unknown relation at any level, a field that is no relation, too deep, an
// empty name, a list within a list — is a 400 naming expand, on a list and on a record, never a
// 500. A path given twice is read once, as one level always was.
func TestExpandNestedBadPaths(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, staysSpec)
		s := newStays(b, 1)
		for _, expand := range []string{
			"nope", "unit.nope", "unit.property.nope", "ref", "unit.name", "unit.property.name",
			"unit.property.owner.name", "unit.property.owner.x.y",
			"unit..property", ".unit", "unit.", "unit,", ",unit", ".", "unit,,unit.property",
			"unit.amenities.units", "unit.bookings.unit.property",
		} {
			for _, path := range []string{"/api/bookings", "/api/bookings/" + s.booking[0]} {
				res := b.do("GET", path+"?expand="+expand, nil)
				require.Equal(t, http.StatusBadRequest, res.status, "%s?expand=%s: %s", path, expand, res.raw)
				require.Equal(t, "malformed_request", res.body["error"], expand)
				require.Equal(t, map[string]string{"expand": "invalid_expand"}, fieldCodes(res.body), expand)
				want := "the list request has invalid parameters"
				if path != "/api/bookings" {
					want = "the request has invalid parameters" // a read of one record is no list
				}
				require.Equal(t, want, res.body["detail"], "%s?expand=%s", path, expand)
			}
		}
		res := b.do("GET", "/api/properties?expand=units.amenities", nil)
		require.Equal(t, map[string]string{"expand": "invalid_expand"}, fieldCodes(res.body), "an inverse, then a to-many: "+string(res.raw))
		res = b.do("GET", "/api/bookings?expand=unit,unit.property", nil)
		require.Equal(t, http.StatusOK, res.status, "a path and its prefix are two paths: "+string(res.raw))
		for _, twice := range []string{"unit,unit", "unit.property,unit.property", "unit.property,unit,unit.property"} {
			res = b.do("GET", "/api/bookings/"+s.booking[0]+"?expand="+twice, nil)
			require.Equal(t, http.StatusOK, res.status, "%s: %s", twice, res.raw)
			unit, _ := res.body["unit"].(map[string]any)
			require.NotNil(t, unit, "%s: %s", twice, res.raw)
		}
	})
}

// An inverse relation in ?fields= is shown only when expanded: alone it is a 400 naming fields,
// not dropped without a word (a trial); with its expand it is shown.
func TestFieldsNamingAnInverseNeedItsExpand(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	cat := b.create("categories", map[string]any{"name": "C", "slug": "c"})
	b.create("products", map[string]any{"name": "P", "price": "1.00", "category": cat})
	for _, path := range []string{"/api/categories?fields=name,products", "/api/categories/" + cat + "?fields=products"} {
		res := b.do("GET", path, nil)
		require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", path, res.raw)
		require.Equal(t, map[string]string{"fields": "invalid_fields"}, fieldCodes(res.body), path)
	}
	res := b.do("GET", "/api/categories/"+cat+"?fields=name,products&expand=products", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	require.Len(t, res.body["products"], 1)
}
