package events

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/kiln-dev/kiln/internal/store"
)

// On PostgreSQL an event's id is drawn while its transaction runs, and a transaction that drew
// a lower id may commit after one that drew a higher: a reader that went past the higher id
// would skip the lower one for ever. A Horizon tells up to which id every event is final —
// committed, or never to be — from what the reader sees each time it looks (Observe):
//
//   - next: a transaction id no transaction that had drawn an event id by then has reached:
//     the snapshot's xmax (above every ended transaction) and one past every transaction id a
//     backend holds (pg_stat_get_activity, read after the snapshot was taken);
//   - last: the highest event id committed in that snapshot.
//
// A transaction draws its event ids after it has its transaction id (an event is written after
// its record). So a transaction id at or above next was given out after that look, and every
// event id it draws is above last. Once the oldest transaction still running (the snapshot's
// xmin, at a later look) is at or above a look's next, every transaction that drew an id up
// to that look's last has ended: every event up to last is final, and last is safe.

// Observation is what one look at the outbox saw (PostgreSQL).
type Observation struct {
	Xmin int64 // the oldest transaction running
	Next int64 // see above
	Last int64 // the highest event id committed
}

const observePG = "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint, " +
	"COALESCE((SELECT string_agg(backend_xid::text, ',') FROM pg_stat_get_activity(NULL) WHERE backend_xid IS NOT NULL), ''), " +
	"COALESCE((SELECT MAX(id) FROM kiln_events), 0) FROM pg_current_snapshot() AS s"

// Observe looks at the outbox (PostgreSQL only; on SQLite every committed event is final).
func Observe(ctx context.Context, ex *store.Exec) (Observation, error) {
	var o Observation
	var xids string
	if err := scanOne(ctx, ex, observePG, nil, &o.Xmin, &o.Next, &xids, &o.Last); err != nil {
		return Observation{}, fmt.Errorf("events horizon: %w", err)
	}
	xmax := o.Next
	for _, f := range strings.FieldsFunc(xids, func(r rune) bool { return r == ',' }) {
		x, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return Observation{}, fmt.Errorf("events horizon: transaction id %q: %w", f, err)
		}
		o.Next = max(o.Next, widen(xmax, uint32(x))+1)
	}
	return o, nil
}

// widen is the 64-bit transaction id (epoch and id, as pg_current_xact_id gives) of the 32-bit
// id x that a running backend holds, near the 64-bit id near: within 2^31 of it, as
// PostgreSQL keeps every running transaction id.
func widen(near int64, x uint32) int64 {
	full := near&^0xFFFFFFFF | int64(x)
	switch {
	case full > near+math.MaxInt32:
		full -= 1 << 32
	case full < near-math.MaxInt32:
		full += 1 << 32
	}
	return full
}

// maxMarks bounds the looks a Horizon keeps while a long transaction holds the oldest one back.
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
	i := 0
	for i < len(h.marks) && h.marks[i].Next <= o.Xmin {
		h.safe = max(h.safe, h.marks[i].Last)
		i++
	}
	h.marks = h.marks[i:]
	return h.safe
}

// Unbounded is the safe id on SQLite, where every committed event is final.
const Unbounded = math.MaxInt64
