package webhooks

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Every write reads the enabled subscriptions to match its event. Instead of a SELECT of
// its own, the write's event insert returns a digest of them (DigestSQL): what matching
// reads — id, name, events, condition, event type — of each enabled subscription, in id
// order, each text prefixed by its length in characters, so two different sets never read
// alike. The subscriptions are parsed again only when the digest differs from the one of
// the set in hand: a change committed by any instance shows in the next write's digest, in
// that write's own transaction, as the SELECT did.

// Digest is the digest a write read with its event; Read is false when it read none.
type Digest struct {
	Text string
	Read bool
}

// DigestSQL is the scalar subquery that reads the digest on dialect ("sqlite" or
// "postgres"); "" when webhooks are off.
func (w *Webhooks) DigestSQL(dialect string) string {
	if !w.Enabled() {
		return ""
	}
	if dialect == "postgres" {
		return digestPG
	}
	return digestSQLite
}

const (
	digestSQLite = "(SELECT group_concat(id || ':' || length(name) || ':' || name || length(events) || ':' || events" +
		" || length(COALESCE(condition, '')) || ':' || COALESCE(condition, '')" +
		" || length(COALESCE(event_type, '')) || ':' || COALESCE(event_type, ''), ';' ORDER BY id)" +
		" FROM kiln_webhooks WHERE disabled_at IS NULL)"
	digestPG = "(SELECT string_agg(id::text || ':' || length(name)::text || ':' || name || length(events)::text || ':' || events" +
		" || length(COALESCE(condition, ''))::text || ':' || COALESCE(condition, '')" +
		" || length(COALESCE(event_type, ''))::text || ':' || COALESCE(event_type, ''), ';' ORDER BY id)" +
		" FROM kiln_webhooks WHERE disabled_at IS NULL)"
)

// digestOf is the digest of subs (enabled, in id order) as DigestSQL reads it.
func digestOf(subs []*Subscription) string {
	var b strings.Builder
	for i, s := range subs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strconv.FormatInt(s.ID, 10))
		b.WriteByte(':')
		for _, t := range []string{s.Name, s.eventsText, s.When, s.Type} {
			b.WriteString(strconv.Itoa(utf8.RuneCountInString(t)))
			b.WriteByte(':')
			b.WriteString(t)
		}
	}
	return b.String()
}

// subsCache is the enabled subscriptions last read and their digest. The subscriptions in
// it are shared by concurrent writes and never changed.
type subsCache struct {
	mu     sync.Mutex
	digest string
	subs   []*Subscription
	loaded bool
	hits   int64 // writes that matched from the cache (Quiet counts one whose guard then failed), for tests
}

func (c *subsCache) lookup(d Digest) ([]*Subscription, bool) {
	if !d.Read {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded || c.digest != d.Text {
		return nil, false
	}
	c.hits++
	return c.subs, true
}

func (c *subsCache) store(subs []*Subscription) {
	d := digestOf(subs)
	c.mu.Lock()
	c.digest, c.subs, c.loaded = d, subs, true
	c.mu.Unlock()
}

// Quiet reports whether no enabled subscription in hand matches resource's op (whatever its
// condition), with the digest of that set: a write that matches its event before writing it,
// made only where its digest is still the database's (events.AppendLast). False
// until the subscriptions were first read; true, with no digest, when webhooks are off.
func (w *Webhooks) Quiet(resource, op string) (string, bool) {
	if !w.Enabled() {
		return "", true
	}
	c := &w.subs
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return "", false
	}
	for _, s := range c.subs {
		if matches(s.Events, resource, op) {
			return "", false
		}
	}
	c.hits++
	return c.digest, true
}

// CacheHits is how many writes matched their event against the subscriptions in hand,
// without reading them (their digest was unchanged).
func (w *Webhooks) CacheHits() int64 {
	w.subs.mu.Lock()
	defer w.subs.mu.Unlock()
	return w.subs.hits
}
