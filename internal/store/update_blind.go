package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// A blind update (PostgreSQL only) changes some columns of a record that was not read first:
// one statement locks the row, writes it, and appends its event with the record before and
// after rendered as JSON by PostgreSQL — the bytes the service's encoder writes for the same
// rows (service.eventJSON; a test compares the two over every kind of field). A PATCH that
// needs nothing of the stored record to decide saves the read's round trip.

// Event keys of system fields (EventKey.Field).
const (
	KeyID = -1 - iota
	KeyCreated
	KeyUpdated
	KeyVersion
)

// EventKey is one key of a record's event JSON, in the order written: Prefix is the text
// before its value (`{"name":` or `,"name":`), Field the index of its field in the
// resource's fields, or a Key constant.
type EventKey struct {
	Prefix string
	Field  int
}

// Patch is what a blind update writes: the fields Set (indexes in the resource's fields) to
// Values, at UpdatedAt.
type Patch struct {
	ID        string
	UpdatedAt time.Time
	Set       []int
	Values    []any
}

// eventRender is a table's event JSON as SQL, rendered once per table (blindSQL).
type eventRender struct {
	old, new string // over kiln_old, and over the updated row with kiln_old's links
	ok       bool   // every key has a column or a link
}

// CanUpdateBlind reports whether resource's records can be updated blind with keys as
// their event's layout (the first keys given for a resource are kept): on PostgreSQL, when
// every key names a stored column, a to-many field or a system field.
func (s *Store) CanUpdateBlind(resource string, keys []EventKey) bool {
	t := s.tables[resource]
	return t != nil && s.dialect.name() == "postgres" && t.eventRendered(keys).ok
}

func (t *table) eventRendered(keys []EventKey) *eventRender {
	t.renderOnce.Do(func() {
		r := &eventRender{ok: true}
		r.old, r.ok = t.eventSQL(keys, "kiln_old", "kiln_old")
		if r.ok {
			r.new, _ = t.eventSQL(keys, quote(t.name), "kiln_old")
		}
		t.render.Store(r)
	})
	return t.render.Load()
}

// UpdateBlind writes p to the record p.ID and appends its event in one statement, as
// UpdateScanning does (f.Then reads kiln_row, whose columns kiln_old_values and
// kiln_new_values are the event's records; f.Guard; f.Last), and returns the record as
// stored. Nothing is written, and the answer is ErrUnwritten, when the record does not exist
// (or is deleted), when every value of p is already stored, when f.Guard does not hold, or
// when the record has links and was written after the statement began (its links as read
// could be older than its row). Its updated_at is p.UpdatedAt, or a microsecond after the
// version it replaces when that is later.
func (e *Exec) UpdateBlind(ctx context.Context, resource string, p Patch, f Fold) (*Record, error) {
	t, err := e.foldTable(resource)
	if err != nil {
		return nil, err
	}
	r := t.render.Load()
	if r == nil || !r.ok {
		return nil, errors.New("store: a blind update of " + t.name + " without its event's layout (CanUpdateBlind)")
	}
	q, args := t.blindSQL(e.s.dialect, r, p, f)
	st, _ := t.poolTargets.Get().(*scanTargets) // as a read on the pool: decode copies what it keeps
	if st == nil {
		st = t.newTargetsOf(poolTarget, func() any { return new(pgtype.Text) })
	}
	defer t.poolTargets.Put(st)
	dest := append(append(make([]any, 0, len(st.all)+len(f.Dest)), st.all...), f.Dest...)
	g := f
	g.Dest = dest
	if err := e.runFolded(ctx, t, q, args, g, true); err != nil {
		// Not tagged with the row (tagRow): a unique clash sends the caller the read-first
		// way, whose write explains the clash; explaining it here too would query twice.
		return nil, err
	}
	e.s.blind.Add(1)
	return t.decodeTargets(e.s.dialect, st)
}

// Blind counts the updates written blind since Open (UpdateBlind; for tests and benchmarks).
func (s *Store) Blind() int64 { return s.blind.Load() }

// blindSQL is UpdateBlind's statement and its arguments. The text depends only on the fields
// set and on f's texts: it is built once per set (about 5 KB for the shop's products).
func (t *table) blindSQL(d dialect, r *eventRender, p Patch, f Fold) (string, []any) {
	args := make([]any, 0, 2+len(p.Set)+len(f.GuardArgs)+len(f.Args))
	args = append(args, p.ID, d.encode(kTime, 0, p.UpdatedAt))
	for i, idx := range p.Set {
		c := t.cols[t.byField[t.res.Fields[idx].Name]]
		args = append(args, d.encode(c.kind, c.scale, p.Values[i]))
	}
	args = append(append(args, f.GuardArgs...), f.Args...)
	key := make([]byte, 0, 2*len(p.Set))
	for _, idx := range p.Set {
		key = strconv.AppendInt(append(key, ','), int64(idx), 10)
	}
	if v, ok := t.blindTexts.Load(string(key)); ok {
		if b := v.(*blindText); b.guard == f.Guard && b.then == f.Then {
			return b.text, args
		}
	}
	text := t.blindText(d, r, p.Set, f)
	if t.blindKept.Add(1) <= maxBlindTexts { // any set of fields can be sent: the first ones are kept
		t.blindTexts.Store(string(key), &blindText{guard: f.Guard, then: f.Then, text: text})
	}
	return text, args
}

// maxBlindTexts bounds the statements a table keeps (blindSQL).
const maxBlindTexts = 64

// blindText is a blind update's statement text, for the fields set (blindSQL).
type blindText struct{ guard, then, text string }

func (t *table) blindText(d dialect, r *eventRender, set []int, f Fold) string {
	name := quote(t.name)
	var b strings.Builder
	b.Grow(1024 + len(r.old) + len(r.new))
	b.WriteString("WITH kiln_old AS (SELECT ")
	b.WriteString(t.blindOldList())
	// The lock an update takes itself: a child's foreign key check (FOR KEY SHARE) does not wait.
	b.WriteString(" FROM " + name + " WHERE " + name + "." + quote("id") + " = $1" + t.andLive() + " FOR NO KEY UPDATE), ")
	// A write that waited for the lock behind a later clock's still follows it in time.
	b.WriteString("kiln_row AS (UPDATE " + name + " SET " + quote("updated_at") + " = GREATEST($2, kiln_old." + quote("updated_at") +
		" + interval '1 microsecond'), " + quote(VersionColumn) + " = " + name + "." + quote(VersionColumn) + " + 1")
	var changed strings.Builder
	for i, idx := range set {
		c := t.cols[t.byField[t.res.Fields[idx].Name]]
		ph := d.placeholder(3 + i)
		b.WriteString(", " + quote(c.name) + " = " + ph)
		if i > 0 {
			changed.WriteString(" OR ")
		}
		changed.WriteString(name + "." + quote(c.name) + " IS DISTINCT FROM " + ph)
	}
	b.WriteString(" FROM kiln_old WHERE " + name + "." + quote("id") + " = kiln_old." + quote("id"))
	if len(t.links) > 0 {
		// The lock gives the row as its last writer left it, but the links are read in the
		// statement's snapshot, from before any wait: a row written since is left to the
		// read-first way, which reads links after the lock.
		b.WriteString(" AND kiln_old." + quote(VersionColumn) + " = (SELECT " + quote(VersionColumn) + " FROM " + name +
			" WHERE " + quote("id") + " = $1)")
	}
	if changed.Len() > 0 {
		b.WriteString(" AND (" + changed.String() + ")")
	}
	n := 2 + len(set)
	if f.Guard != "" {
		b.WriteString(" AND " + rebindDollarFrom(f.Guard, n+1))
		n += strings.Count(f.Guard, "?")
	}
	b.WriteString(" RETURNING " + t.blindNewList() + ", " + r.old + " AS kiln_old_values, " + r.new + " AS kiln_new_values), ")
	b.WriteString("kiln_ev AS (" + rebindDollarFrom(f.Then, n+1) + ") SELECT ")
	for i := range 4 + len(t.cols) + len(t.links) {
		b.WriteString("kiln_row.k" + strconv.Itoa(i) + ", ")
	}
	b.WriteString("kiln_ev.* FROM kiln_row, kiln_ev")
	return b.String()
}

// blindOldList is kiln_old's select list: the record's columns, its links as kiln_link_N.
func (t *table) blindOldList() string {
	parts := t.qualifiedCols()
	for i, l := range t.linkSQL {
		parts = append(parts, l+" AS kiln_link_"+strconv.Itoa(i))
	}
	return strings.Join(parts, ", ")
}

// blindNewList is kiln_row's record columns, k0…kN in a read's order (selectList).
func (t *table) blindNewList() string {
	cols := t.qualifiedCols()
	for i := range t.links {
		cols = append(cols, "kiln_old.kiln_link_"+strconv.Itoa(i))
	}
	for i := range cols {
		cols[i] += " AS k" + strconv.Itoa(i)
	}
	return strings.Join(cols, ", ")
}

// qualifiedCols is the record's stored columns, qualified by the table's name: id,
// created_at, updated_at, the version, then the fields' columns.
func (t *table) qualifiedCols() []string {
	name := quote(t.name)
	cols := []string{name + "." + quote("id"), name + "." + quote("created_at"), name + "." + quote("updated_at"), name + "." + quote(VersionColumn)}
	for _, c := range t.cols {
		cols = append(cols, name+"."+quote(c.name))
	}
	return cols
}
