package store

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Writes alone on PostgreSQL commit in groups. A statement alone (alone.go) commits by itself,
// and each commit costs PostgreSQL a transaction's start and end and a flush of its WAL: with
// many writes at once, that was most of what PostgreSQL spent on a create (pgbench on the
// shop's create statement: about 370 µs of PostgreSQL CPU per statement committed alone by 16
// clients, about 120 µs per statement committed in transactions of eight; see
// docs/performance.md). So at most groupsAtOnce statements alone are in flight; the ones that
// come meanwhile wait, and when a statement or group ends, the first waiting is handed the
// others that waited (up to groupMost) and sends them all on its own connection in one
// round trip: BEGIN, the statements, COMMIT, one Sync.
//
// What each write sees and leaves is what it would alone:
//   - its statement runs in the group's transaction, after the ones queued before it, and is
//     answered only once that transaction committed (nobody hears "done" before the commit
//     that carries the write);
//   - a statement that fails (a unique clash, a deadlock, a serialization failure) aborts the
//     whole group on the server; nothing of it committed, so it runs again by itself, as it
//     would have without the group, and hears its own outcome; the others are sent again as
//     a group when the statement failed on its own values (a constraint, a value refused),
//     and run by themselves too when it failed waiting (a lock, a deadlock);
//   - a statement whose guard did not hold wrote nothing, in a group as alone (ErrUnwritten);
//   - a write whose context ends while it waits leaves the queue and is not sent; once sent,
//     it waits for its group's outcome, which no single caller's context interrupts;
//   - a group not answered within groupStall (its statements waited for a lock while pgx
//     prepared them, before the lock timeout was set; an overloaded server) is cancelled on
//     the server and its answer awaited, as for a statement alone (aloneWatch): cancelled,
//     nothing of it committed, and its writes run by themselves;
//   - when the outcome is unknown (the connection broke after the group was sent), every
//     statement in it hears that, as a statement alone would.
//
// A write that finds fewer than groupsAtOnce in flight is sent at once, alone, as before: at
// low load nothing changes. A turn that takes longer than groupSlow (a statement alone waiting
// for a row lock, say) stops counting as in flight then, and a statement in a group waits for
// a lock no longer than groupLockTimeout: a write that waits holds up no other.

const (
	groupsAtOnce = 2  // statements alone, or groups of them, in flight at once
	groupMost    = 32 // the most statements in one group
	groupStall   = 500 * time.Millisecond
	groupSlow    = 20 * time.Millisecond
)

// pgGroups queues statements alone and hands them out in groups.
type pgGroups struct {
	mu       sync.Mutex
	inflight int
	queue    []*groupMember
	atOnce   int
	most     int
	grouped  func() // counts a statement committed in a group (Store.Grouped)
	// leave lets a member whose context ends go while another sends its group: a read's
	// outcome then matters to nobody (a write must hear whether it committed).
	leave bool
}

func newPGGroups(atOnce int, grouped func()) *pgGroups {
	return &pgGroups{atOnce: atOnce, most: groupMost, grouped: grouped}
}

// groupMember is a statement alone waiting for its turn, and then its outcome.
type groupMember struct {
	query string
	args  []any
	dest  []any                // a write's: its row's values
	scan  func(pgx.Rows) error // a read's: reads its rows (pgreads.go)
	// deadline is a read's context's (zero: none): its group runs until the last of them.
	deadline time.Time
	lead     chan *groupTurn // the turn this member takes, when it leads a group
	done     chan struct{}   // closed once another member's group decided the outcome
	wrote    bool            // its statement returned its row, scanned into dest
	again    bool            // the group did not commit: run the statement by itself
	err      error           // its outcome when it is not known to have failed as a whole
}

func newGroupMember(query string, args, dest []any) *groupMember {
	return &groupMember{query: query, args: args, dest: dest, lead: make(chan *groupTurn, 1), done: make(chan struct{})}
}

// groupTurn is a statement alone or a group in flight: the members it sends, the first the
// sender's own.
type groupTurn struct {
	ms    []*groupMember
	over  bool // it no longer counts as in flight (end, or groupSlow passed)
	timer *time.Timer
}

// turn waits for m's turn. It answers the turn m takes (its members m first; alone when m is
// the only one), to be ended with end; or nil once another member's group decided m's
// outcome; or ctx's error when ctx ended while m waited (m was not sent).
func (g *pgGroups) turn(ctx context.Context, m *groupMember) (*groupTurn, error) {
	tn, err := g.wait(ctx, m)
	if tn != nil {
		tn.timer = time.AfterFunc(groupSlow, func() { g.over(tn) })
	}
	return tn, err
}

func (g *pgGroups) wait(ctx context.Context, m *groupMember) (*groupTurn, error) {
	g.mu.Lock()
	if g.inflight < g.atOnce {
		g.inflight++
		g.mu.Unlock()
		return &groupTurn{ms: []*groupMember{m}}, nil
	}
	g.queue = append(g.queue, m)
	g.mu.Unlock()
	select {
	case tn := <-m.lead:
		return tn, nil
	case <-m.done:
		return nil, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	if i := slices.Index(g.queue, m); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
		g.mu.Unlock()
		return nil, ctx.Err()
	}
	follower := len(m.lead) == 0 // a leader is handed its turn as it is taken (over)
	g.mu.Unlock()
	if follower && g.leave {
		return nil, ctx.Err()
	}
	select { // taken already: it is sent, or about to be
	case tn := <-m.lead:
		return tn, nil
	case <-m.done:
		return nil, nil
	}
}

// end ends a turn.
func (g *pgGroups) end(tn *groupTurn) {
	tn.timer.Stop()
	g.over(tn)
}

// over takes tn out of the turns in flight, once: the members waiting (up to most) go to the
// first of them, who sends them.
func (g *pgGroups) over(tn *groupTurn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if tn.over {
		return
	}
	tn.over = true
	if len(g.queue) == 0 {
		g.inflight--
		return
	}
	n := min(len(g.queue), g.most)
	next := &groupTurn{ms: slices.Clone(g.queue[:n])}
	g.queue = append(g.queue[:0], g.queue[n:]...)
	next.ms[0].lead <- next
}

// errGroupRolledBack is a group whose COMMIT answered ROLLBACK: nothing of it committed.
var errGroupRolledBack = errors.New("postgres: the group's transaction rolled back")

// groupLockTimeout bounds how long a statement in a group waits for a lock (another
// transaction's row, or its uncommitted row of the same unique value): past it PostgreSQL
// fails the statement, the group is abandoned, and its writes run by themselves — the one
// that waits then waits alone, and holds up no other write past their own deadlines.
const groupLockTimeout = "set local lock_timeout = '20ms'"

// nothingCommitted reports whether a group that failed with err is known to have committed
// nothing: the server failed a statement or the commit (the group's transaction rolled back),
// or nothing was sent (the connection failed first, or pgx could not encode an argument).
// A failure at the COMMIT itself tells nothing unless the server answered it with an ERROR
// (the commit failed, so the transaction rolled back): a FATAL there (the session terminated,
// pg_terminate_backend) or a lost connection may come after the commit took effect.
func nothingCommitted(err error) bool {
	var pgErr *pgconn.PgError
	var pre pgx.ErrPreprocessingBatch
	var unknown *commitUnknownError
	if errors.As(err, &unknown) {
		return false
	}
	return errors.As(err, &pgErr) || errors.Is(err, errGroupRolledBack) || pgconn.SafeToRetry(err) ||
		errors.As(err, &pre)
}

// commitUnknownError is a group's COMMIT that failed without saying it rolled back: the group
// may have committed, and its writes must not run again.
type commitUnknownError struct{ err error }

func (e *commitUnknownError) Error() string { return "postgres: the group's commit: " + e.err.Error() }
func (e *commitUnknownError) Unwrap() error { return e.err }

// commitOutcome reads the answer to a group's COMMIT: committed, or the error the group failed
// with (errGroupRolledBack, the server's ERROR, or commitUnknownError).
func commitOutcome(tag pgconn.CommandTag, err error) (bool, error) {
	var pgErr *pgconn.PgError
	switch {
	case err == nil && tag.String() == "ROLLBACK":
		return false, errGroupRolledBack
	case err == nil:
		return true, nil
	case errors.As(err, &pgErr) && cmp.Or(pgErr.SeverityUnlocalized, pgErr.Severity) == "ERROR":
		return false, err
	}
	return false, &commitUnknownError{err: err}
}

// send runs ms on conn in one transaction and one round trip, and decides each member's
// outcome; the first member is the caller's, the others are told through done. When the server
// failed one member's statement on its own values (ownFault: a unique clash, say), nothing of
// the group committed: that member runs again by itself, to hear its own outcome, and the
// others are sent again as a group, up to groupResends times (each costs a round trip; one
// clash in a large group would otherwise send every member of it by itself). A statement that
// failed waiting (a lock past groupLockTimeout, a deadlock) may be one of many waiting for the
// same row: sent again, each would wait its turn, so every member runs by itself at once.
func (g *pgGroups) send(conn *pgx.Conn, ms []*groupMember) {
	ctx, cancel := context.WithTimeout(context.Background(), groupStall)
	defer cancel()
	left := ms
	for resend := 0; ; resend++ {
		failed, err := readGroup(conn.SendBatch(ctx, groupBatch(left)), conn.TypeMap(), left)
		again := err != nil && nothingCommitted(err)
		if again {
			rollbackOpen(ctx, conn)
		}
		if again && failed >= 0 && ownFault(err) && len(left) > 1 && resend < groupResends && !conn.IsClosed() && ctx.Err() == nil {
			left[failed].wrote, left[failed].again, left[failed].err = false, true, nil
			left = slices.Delete(slices.Clone(left), failed, failed+1)
			for _, m := range left {
				m.wrote, m.err = false, nil
			}
			continue
		}
		g.settle(left, again, err)
		break
	}
	for _, m := range ms[1:] {
		close(m.done)
	}
}

// ownFault reports whether err is the server failing a statement on its own values: an
// integrity constraint (class 23) or a value it refuses (class 22).
func ownFault(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "23") || strings.HasPrefix(pgErr.Code, "22"))
}

// groupResends bounds how often a group is sent again without a member the server failed
// (groupStall bounds the time all its sends take): a fifth of a group of 32 clashing on a
// unique value still commits the other four fifths together.
const groupResends = 8

// settle records the outcome of the group ms that was sent last: again when nothing of it
// committed (each member runs by itself), err when its outcome is unknown.
func (g *pgGroups) settle(ms []*groupMember, again bool, err error) {
	for _, m := range ms {
		switch {
		case again:
			m.wrote, m.again, m.err = false, true, nil
		case err != nil:
			m.err = err
		case m.wrote && m.err == nil:
			g.grouped()
		}
	}
}

// groupBatch is ms's statements in one transaction with the group's lock timeout.
func groupBatch(ms []*groupMember) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(groupLockTimeout)
	for _, m := range ms {
		b.Queue(m.query, m.args...)
	}
	b.Queue("commit")
	return b
}

// rollbackOpen ends a transaction a failed group left open on conn (closing conn when it
// cannot), so that the connection goes on outside one.
func rollbackOpen(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := conn.Exec(ctx, "rollback"); err != nil {
		_ = conn.Close(ctx)
	}
}

// readGroup reads the answers of BEGIN, the lock timeout, each member's statement and COMMIT.
// A member whose statement returned its row had it scanned into its dest (wrote); a scan that
// fails is that member's error alone (its row was written: the transaction goes on to its
// COMMIT) — scanned from the row's raw values, so that the batch's results read on (pgx's own
// Scan would fail the rest of the batch). failed is the index in ms of the member whose
// statement the server failed, if one did (-1 otherwise).
func readGroup(br pgx.BatchResults, types *pgtype.Map, ms []*groupMember) (failed int, err error) {
	failed = -1
	_, err = br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	for i, m := range ms {
		if err != nil {
			break
		}
		if err = readMember(br, types, m); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				failed = i
			}
		}
	}
	committed := false
	if err == nil {
		committed, err = commitOutcome(br.Exec())
	}
	if cerr := br.Close(); err == nil && !committed {
		err = cerr
	}
	return failed, err // once COMMIT answered, a later failure (the session ended after it) changes nothing
}

// readMember reads m's answer in a group: its row scanned into its dest, if it returned one.
func readMember(br pgx.BatchResults, types *pgtype.Map, m *groupMember) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	if rows.Next() {
		m.err = pgx.ScanRow(types, rows.FieldDescriptions(), rows.RawValues(), m.dest...)
		m.wrote = m.err == nil
	}
	rows.Close()
	return rows.Err()
}
