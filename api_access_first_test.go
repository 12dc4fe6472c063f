package kiln_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// rooms: members may book the lobby only; a rule keeps any room from being booked twice at
// once, reading every booking — the admins' too.
const rooms = `roles: [admin, member]
auth: {account: users, signup: "off", admin_roles: [admin]}
resources:
  users:
    fields: {name: string}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  bookings:
    fields:
      room: {type: string, required: true}
      starts_at: {type: datetime, required: true}
      ends_at: {type: datetime, required: true}
      owner: {type: relation, to: users, default: auth.id, readonly: true}
    access:
      list: "auth.role == 'admin' || record.owner == auth.id"
      view: "auth.role == 'admin' || record.owner == auth.id"
      create: "auth.role == 'admin' || record.room == 'lobby'"
      update: "auth.role == 'admin' || (record.owner == auth.id && record.room == 'lobby')"
      delete: [admin]
    rules:
      - name: room_free
        check: "count('bookings', 'room == record.room && id != record.id && starts_at < record.ends_at && ends_at > record.starts_at') == 0"
        code: room_taken
        conflict: true
        message: the room is taken then
      - name: ends_after_start
        check: "record.ends_at > record.starts_at"
        fields: [ends_at]
        code: ends_before_start
`

// A write the access rule does not admit is refused before its rules answer: the rules read
// other records (here every booking of the room), and their 409 told a member who may book the
// lobby only when the CEO's office was taken — 409 room_taken at a booked time, 403 at a free
// one (a new user's trial found it). Now both are 403, on create and on update; a request with
// field errors of its own gets those alone, and a writer the rule admits still gets the rules'.
func TestAccessIsCheckedBeforeRulesAnswer(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, rooms)
		admin := bearer(b.token("admin"))
		member := bearer(b.token("member"))
		at := func(room, from, to string) map[string]any {
			return map[string]any{"room": room, "starts_at": "2027-01-01T" + from + ":00Z", "ends_at": "2027-01-01T" + to + ":00Z"}
		}
		res := b.do("POST", "/api/bookings", at("ceo", "10:00", "11:00"), admin...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))

		for _, slot := range [][2]string{{"10:30", "10:45"}, {"12:00", "12:30"}} {
			res = b.do("POST", "/api/bookings", at("ceo", slot[0], slot[1]), member...)
			require.Equal(t, http.StatusForbidden, res.status, "the same answer whether or not the office is taken at %v: %s", slot, res.raw)
			require.NotContains(t, string(res.raw), "room_taken")
		}
		res = b.do("POST", "/api/bookings", at("ceo", "10:30", "10:15"), member...)
		require.Equal(t, http.StatusForbidden, res.status, "a rule's field error is a rule's answer too: %s", res.raw)
		body := at("ceo", "10:30", "10:45")
		body["ends_at"] = 7
		res = b.do("POST", "/api/bookings", body, member...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, map[string]string{"ends_at": "type"}, fieldCodes(res.body), "the request's own field error, no rule's: %s", res.raw)

		res = b.do("POST", "/api/bookings", at("lobby", "10:00", "11:00"), member...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		lobby := res.body["id"].(string)
		res = b.do("POST", "/api/bookings", at("lobby", "10:30", "10:45"), member...)
		require.Equal(t, http.StatusConflict, res.status, "a writer the rule admits gets the rules' answer: %s", res.raw)
		require.Equal(t, "room_taken", res.body["error"], string(res.raw))
		res = b.do("POST", "/api/bookings", at("ceo", "10:30", "10:45"), admin...)
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))

		res = b.do("PATCH", "/api/bookings/"+lobby, map[string]any{"room": "ceo"}, member...)
		require.Equal(t, http.StatusForbidden, res.status, "moving into a taken office: %s", res.raw)
		require.NotContains(t, string(res.raw), "room_taken")
		res = b.do("PATCH", "/api/bookings/"+lobby, map[string]any{"room": "ceo", "starts_at": "2027-01-01T12:00:00Z", "ends_at": "2027-01-01T12:30:00Z"}, member...)
		require.Equal(t, http.StatusForbidden, res.status, "and into a free one: %s", res.raw)
		require.Equal(t, int64(2), b.count("bookings"), "nothing refused was written")
	})
}
