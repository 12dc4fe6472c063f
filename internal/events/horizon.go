package events

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/kiln-dev/kiln/internal/store"
)

// On PostgreSQL an event's id is drawn while its transaction runs, and a transaction that drew
// a lower id may commit after one that drew a higher: a reader that went past the higher id
// would skip the lower one for ever. A Horizon tells up to which id every event is final —
// committed, or never to be — from what the reader sees each time it looks (Observe), in one
// statement:
//
//   - last: the highest event id committed in the statement's snapshot;
//   - writers: the transactions holding ROW EXCLUSIVE on kiln_events (pg_locks, read after
//     the snapshot was taken), each by its virtual transaction id.
//
// A transaction that draws an event id holds ROW EXCLUSIVE on kiln_events from before the draw
// (an INSERT takes it before it runs, whatever else it holds) until it ends; readers, VACUUM
// (autovacuum's too) and CREATE INDEX CONCURRENTLY take other modes and are no writers. Ids are drawn in increasing order (the
// sequence's CACHE is 1, PostgreSQL's default), so every id up to last was drawn before the
// snapshot: a transaction that drew one and had not ended when the locks were read is among
// that look's writers. Once a later look finds none of them holding the lock any more, each
// has ended, and every event up to that look's last is final: last is safe.
//
// Only transactions that write kiln_events count, so an unrelated long transaction (in this
// database or another) holds nothing back. A prepared transaction (two-phase commit) holds its
// locks under a virtual id of its own (-1/…) from PREPARE on: a writer that prepared between
// two looks would seem to have ended. While one holds the lock, nothing becomes safe. This relies on every row being inserted with an id
// the insert draws, as Kiln inserts them; a row inserted with an id drawn earlier by hand
// (nextval first, INSERT later) could be passed by.

// Observation is what one look at the outbox saw (PostgreSQL).
type Observation struct {
	Last    int64    // the highest event id committed
	Writers []string // the transactions holding a write lock on kiln_events, sorted
}

const observePG = "SELECT COALESCE((SELECT MAX(id) FROM kiln_events), 0), " +
	"COALESCE((SELECT string_agg(DISTINCT l.virtualtransaction, ',') FROM pg_locks l " +
	"WHERE l.locktype = 'relation' AND l.granted AND l.mode = 'RowExclusiveLock' " +
	"AND l.relation = to_regclass('kiln_events') " +
	"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), '')"

// Observe looks at the outbox (PostgreSQL only; on SQLite every committed event is final).
func Observe(ctx context.Context, ex *store.Exec) (Observation, error) {
	var o Observation
	var writers string
	if err := scanOne(ctx, ex, observePG, nil, &o.Last, &writers); err != nil {
		return Observation{}, fmt.Errorf("events horizon: %w", err)
	}
	if writers != "" {
		o.Writers = strings.Split(writers, ",")
		slices.Sort(o.Writers)
	}
	return o, nil
}

// maxMarks bounds the looks a Horizon keeps while a long transaction writing events runs.
const maxMarks = 256

// Horizon keeps the safe event id from the looks at the outbox (see above). It is safe for
// concurrent use.
type Horizon struct {
	mu    sync.Mutex
	marks []Observation // looks whose last is not safe yet, oldest first, last increasing
	safe  int64
}

// NewHorizon starts with nothing known safe.
func NewHorizon() *Horizon { return &Horizon{} }

// Advance takes a new look and returns the safe id: every event up to it is final.
func (h *Horizon) Advance(o Observation) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.marks); o.Last > h.safe && (n == 0 || o.Last > h.marks[n-1].Last) {
		h.marks = append(h.marks, o)
	}
	if len(h.marks) > maxMarks {
		// Keep every other look: a kept one is as safe as before, only known safe later.
		kept := h.marks[:0]
		for i := 1; i < len(h.marks); i += 2 {
			kept = append(kept, h.marks[i])
		}
		h.marks = kept
	}
	if slices.ContainsFunc(o.Writers, prepared) {
		return h.safe
	}
	// The latest look none of whose writers still writes makes its last safe, and every
	// earlier look's with it (their ids are lower).
	done := -1
	for i, m := range h.marks {
		if !anyOf(m.Writers, o.Writers) {
			done = i
		}
	}
	if done >= 0 {
		h.safe = max(h.safe, h.marks[done].Last)
		h.marks = h.marks[done+1:]
	}
	return h.safe
}

// prepared reports whether a lock holder's virtual transaction id is a prepared transaction's.
func prepared(vxid string) bool { return strings.HasPrefix(vxid, "-1/") }

// anyOf reports whether the sorted lists a and b share an element.
func anyOf(a, b []string) bool {
	for len(a) > 0 && len(b) > 0 {
		switch strings.Compare(a[0], b[0]) {
		case 0:
			return true
		case -1:
			a = a[1:]
		default:
			b = b[1:]
		}
	}
	return false
}

// Unbounded is the safe id on SQLite, where every committed event is final.
const Unbounded int64 = math.MaxInt64
