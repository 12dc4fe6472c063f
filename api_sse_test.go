package kiln_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sseMsg is one Server-Sent Events message.
type sseMsg struct {
	id, event string
	data      map[string]any
}

// sseStream is an open GET …/events.
type sseStream struct {
	t      *testing.T
	res    *http.Response
	msgs   chan sseMsg
	cancel context.CancelFunc
}

// stream opens path as an event stream and requires 200 text/event-stream.
func (b *testBundle) stream(path string, headers ...string) *sseStream {
	b.t.Helper()
	res, cancel := b.openStream(path, headers...)
	require.Equal(b.t, http.StatusOK, res.StatusCode)
	require.Equal(b.t, "text/event-stream", res.Header.Get("Content-Type"))
	s := &sseStream{t: b.t, res: res, msgs: make(chan sseMsg, 100), cancel: cancel}
	go s.read()
	b.t.Cleanup(s.close)
	return s
}

func (b *testBundle) openStream(path string, headers ...string) (*http.Response, context.CancelFunc) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", b.srv.URL+path, nil)
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+b.admin)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		}
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	return res, cancel
}

func (s *sseStream) read() {
	defer close(s.msgs)
	sc := bufio.NewScanner(s.res.Body)
	var m sseMsg
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if m.id != "" {
				s.msgs <- m
			}
			m = sseMsg{}
		case strings.HasPrefix(line, "id: "):
			m.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			m.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			dec := json.NewDecoder(bytes.NewReader([]byte(line[6:])))
			dec.UseNumber()
			if err := dec.Decode(&m.data); err != nil {
				return
			}
		}
	}
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.res.Body.Close()
}

// next waits for the next message.
func (s *sseStream) next() sseMsg {
	s.t.Helper()
	select {
	case m, ok := <-s.msgs:
		require.True(s.t, ok, "the stream ended")
		return m
	case <-time.After(15 * time.Second):
		s.t.Fatal("no event within 15 s")
	}
	return sseMsg{}
}

// record is the message's record.
func (m sseMsg) record() map[string]any {
	r, _ := m.data["record"].(map[string]any)
	return r
}

// A customer's stream carries their own order changes, as a GET shows the order, and never
// another customer's; without credentials the stream is refused as the list is.
func TestSSECustomerGetsOnlyOwnOrders(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		p := b.product("Kettle", "20", 50)
		alice, bob := b.account("customer"), b.account("customer")
		ta, tb := bearer(b.tokenFor(alice)), bearer(b.tokenFor(bob))
		s := b.stream("/api/orders/events", ta...)

		other := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 1)}}, tb...)
		require.Equal(t, http.StatusCreated, other.status, string(other.raw))
		own := b.do("POST", "/api/orders", map[string]any{"items": []any{item(p, 2)}}, ta...)
		require.Equal(t, http.StatusCreated, own.status, string(own.raw))
		ownID := own.body["id"].(string)

		m := s.next()
		require.Equal(t, "create", m.event)
		require.Equal(t, ownID, m.data["record_id"])
		require.Equal(t, "orders", m.data["resource"])
		require.Equal(t, "create", m.data["operation"])
		require.NotEmpty(t, m.data["at"])
		got := b.do("GET", "/api/orders/"+ownID, nil, ta...)
		require.Equal(t, got.body, m.record(), "the record as a GET shows it")

		paid := b.do("PATCH", "/api/orders/"+other.body["id"].(string), map[string]any{"status": "paid"})
		require.Equal(t, http.StatusOK, paid.status, string(paid.raw))
		cancel := b.do("POST", "/api/orders/"+ownID+"/cancel", nil, ta...)
		require.Equal(t, http.StatusOK, cancel.status, string(cancel.raw))
		m = s.next()
		require.Equal(t, "update", m.event)
		require.Equal(t, ownID, m.data["record_id"])
		require.Equal(t, "cancelled", m.record()["status"])
		m = s.next()
		require.Equal(t, "action", m.event)
		require.Equal(t, "cancel", m.data["action"])
		require.Equal(t, ownID, m.data["record_id"])

		res, stop := b.openStream("/api/orders/events", "Authorization", "")
		defer stop()
		defer res.Body.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)

		denied := b.do("GET", "/api/customers/events", nil, ta...) // customers: list [staff, admin]
		require.Equal(t, http.StatusForbidden, denied.status)
		list := b.do("GET", "/api/customers", nil, ta...)
		require.Equal(t, list.body["code"], denied.body["code"])

		anon := b.stream("/api/products/events", "Authorization", "") // products: list public
		p2 := b.product("Public", "1", 1)
		require.Equal(t, p2, anon.next().data["record_id"])
	})
}

// The filter parameter is honoured per event, and a bad one is the 400 a list answers.
func TestSSEFilter(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		s := b.stream("/api/products/events?filter=" + url.QueryEscape("stock > 5"))
		b.product("Few", "1", 1)
		many := b.product("Many", "1", 10)
		m := s.next()
		require.Equal(t, many, m.data["record_id"])
		require.Equal(t, "create", m.event)
		res := b.do("PATCH", "/api/products/"+many, map[string]any{"stock": 2})
		require.Equal(t, http.StatusOK, res.status)
		more := b.product("More", "1", 20)
		require.Equal(t, more, s.next().data["record_id"], "the update to stock 2 is filtered out")

		bad := "/events?filter=" + url.QueryEscape("stock >")
		list := b.do("GET", "/api/products"+bad[len("/events"):], nil)
		stream := b.do("GET", "/api/products"+bad, nil)
		require.Equal(t, http.StatusBadRequest, stream.status)
		require.Equal(t, list.status, stream.status)
		require.Equal(t, list.body["code"], stream.body["code"])
		require.Equal(t, list.body["errors"], stream.body["errors"])
		unknown := b.do("GET", "/api/products/events?limit=3", nil)
		require.Equal(t, http.StatusBadRequest, unknown.status)
	})
}

// A stream that reconnects with Last-Event-ID (or ?after=) gets everything written while it
// was away, in order, then live events.
func TestSSEReconnectMissesNothing(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		s := b.stream("/api/products/events")
		first := b.product("First", "1", 1)
		m := s.next()
		require.Equal(t, first, m.data["record_id"])
		s.close()

		var want []string
		for _, name := range []string{"A", "B", "C"} {
			want = append(want, "create "+b.product(name, "1", 1))
		}
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/products/"+first, map[string]any{"stock": 7}).status)
		want = append(want, "update "+first)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/products/"+first, nil).status)
		want = append(want, "delete "+first)

		for _, resume := range []struct{ path, header string }{{"/api/products/events", m.id}, {"/api/products/events?after=" + m.id, ""}} {
			r := b.stream(resume.path, "Last-Event-ID", resume.header)
			var got []string
			last := 0
			for range want {
				msg := r.next()
				got = append(got, msg.event+" "+msg.data["record_id"].(string))
				id := atoi(t, msg.id)
				require.Greater(t, id, last)
				last = id
			}
			require.Equal(t, want, got)
			live := b.product("Live", "1", 1)
			require.Equal(t, live, r.next().data["record_id"])
			want = append(want, "create "+live)
			r.close()
		}
		bad := b.do("GET", "/api/products/events", nil, "Last-Event-ID", "nope")
		require.Equal(t, http.StatusBadRequest, bad.status)

		// An id past every event this database has written (a client of a database since reset
		// or restored) resumes from now, on both dialects: on SQLite the events up to that id
		// were skipped without a word (a new user's trial).
		ahead := b.stream("/api/products/events", "Last-Event-ID", strconv.Itoa(atoi(t, m.id)+1000))
		var got []string
		for _, name := range []string{"X", "Y"} {
			id := b.product(name, "1", 1)
			got = append(got, ahead.next().data["record_id"].(string))
			require.Equal(t, id, got[len(got)-1])
		}
		ahead.close()
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	require.NoError(t, json.Unmarshal([]byte(s), &n))
	return n
}

// The OpenAPI document describes each resource's stream.
func TestSSEInOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	doc := b.do("GET", "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, doc.status)
	op := doc.body["paths"].(map[string]any)["/api/orders/events"].(map[string]any)["get"].(map[string]any)
	ok := op["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)
	require.Contains(t, ok, "text/event-stream")
	require.Contains(t, op["responses"], "401", "the list rule needs a token")
}

// A stream ends when the access token it was opened with expires: the client reconnects
// with a fresh token (and Last-Event-ID), so a revoked or downgraded account stops
// receiving changes. An API key's stream has no such end.
func TestSSEEndsWhenTheAccessTokenExpires(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("examples", "shop", "kiln.yaml"))
	require.NoError(t, err)
	src := strings.Replace(string(raw), "  audience: shop\n", "  audience: shop\n  access_ttl: 3s\n", 1)
	require.NotEqual(t, string(raw), src)
	b := setup(t, "sqlite", src)
	s := b.stream("/api/products/events")
	b.product("Lamp", "3", 1)
	require.Equal(t, "create", s.next().event)
	select {
	case _, ok := <-s.msgs:
		require.False(t, ok, "no more events: the stream ended")
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived its access token")
	}
}

// A stream ends within seconds when the session it was opened with ends (logout here), not at
// its access token's expiry: a new user's trial logged out and its open stream went on
// delivering. A stream whose credential still stands goes on.
func TestSSEEndsWhenItsSessionEnds(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", "")
	_, access, refresh := b.signup("streamer@example.com", "a long password")
	_, otherAccess, _ := b.signup("other@example.com", "a long password")
	s := b.stream("/api/products/events", "Authorization", "Bearer "+access)
	kept := b.stream("/api/products/events", "Authorization", "Bearer "+otherAccess)
	b.product("Lamp", "3", 1)
	require.Equal(t, "create", s.next().event)
	require.Equal(t, "create", kept.next().event)
	require.Equal(t, http.StatusNoContent, b.anon("POST", "/api/auth/logout", map[string]any{"refresh_token": refresh}).status)
	select {
	case _, ok := <-s.msgs:
		require.False(t, ok, "no more events: the stream ended")
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived its session")
	}
	b.product("Desk", "3", 1)
	require.Equal(t, "create", kept.next().event, "another account's stream goes on")
}
