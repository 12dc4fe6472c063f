package service

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/events"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// write is one record write inside a transaction: the pipeline's steps for one resource.
// Nested children, effects and action steps are writes too, in the same transaction.
type write struct {
	s    *Service
	tx   *store.Exec
	r    *resource
	cond query.Cond // the row rule the principal's write must meet (nil: any record)
	// inner marks a write made on another write's authority (a nested child, an effect, an
	// action step): the resource's own access rule does not apply, its logic does.
	inner bool
	path  string          // prefix of error fields for nested children: "items[1]."
	trust map[string]bool // relation fields set by the parent write (not checked again)
	typed map[string]any  // values computed by logic (effects, steps), already typed
	// seen holds related records read by the relation check for the logic that follows; it is
	// dropped once the logic ran, before the write changes anything.
	seen map[string]*store.Record
	// unwritten is a record whose write goes with its event's statement: a create's
	// (foldInsert), or an update's of the record read without a lock (unwrittenOld, as read).
	unwritten, unwrittenOld *store.Record
	// noop: the update changed nothing, and wrote nothing (unchanged)
	noop bool
	// ran is what this update's before-hooks changed, on the version it read; replay is that
	// of an attempt that did not fold, applied again in place of the hooks when the record
	// is still at that version (hooked)
	ran, replay *hookRun
	// read is the record as read without a lock (updateAlone): its update is written only
	// where the version is still this one's, under the webhook subscriptions' digest.
	read   *store.Record
	digest string
	// last: the write is its transaction's whole work — nothing runs on the transaction after
	// its event (Service.Create without an idempotency key, updateAlone) — so it may end with
	// its event's statement; matched: it did, and its event needs no webhook matching.
	last, matched bool
}

// errMoved says an update of a record read without a lock was not written: the record
// changed or went since, the subscriptions changed, or the write needs more than its row and
// its event. Update then takes the usual way.
var errMoved = errors.New("service: the record read without a lock was not written")

// foldsUpdate reports whether an update of r with input in (full: PUT) can be only its row and
// its event, written over the record read without a lock (updateAlone): no to-many links or
// files sent (nor, for PUT, files reset), no relation sent (its check reads, and locks, the
// target), no effects, no rollups, and no checks that read other records — those lock what
// they read, and locking them before the record itself could deadlock with a write that
// locks the record first.
func (s *Service) foldsUpdate(r *resource, in map[string]any, full bool) bool {
	if r.hasRollups {
		return false
	}
	if lr := s.logic.Resource(r.Name); lr != nil && (lr.HasEffects(spec.OpUpdate) || len(lr.Parents) > 0 || lr.Reads) {
		return false
	}
	for _, f := range r.Fields {
		_, sent := in[f.Name]
		if (sent && (f.IsToMany() || f.Type == spec.TypeRelation)) || ((sent || full) && f.Type == spec.TypeFile) {
			return false
		}
	}
	return true
}

// foldUpdate is foldsUpdate for the write at hand, once its values are computed: what logic
// set counts as sent, and no file may have changed.
func (w *write) foldUpdate(in map[string]any, old, rec *store.Record, full bool) bool {
	if w.inner || !w.tx.CanInsertScanning() || !w.s.foldsUpdate(w.r, w.given(in), full) {
		return false
	}
	for i, f := range w.r.Fields {
		if f.Type == spec.TypeFile && !reflect.DeepEqual(old.Values[i], rec.Values[i]) {
			return false
		}
	}
	return true
}

// foldInsert reports whether a create's record can be written by its event's statement (one
// round trip less on PostgreSQL): when nothing runs on the transaction between the insert and
// the event — no to-many links sent, no nested children, no effects, no rollups to refresh,
// nothing read back. Nested and logic-made writes keep their own insert.
func (w *write) foldInsert(given map[string]any, children map[string][]map[string]any) bool {
	if w.inner || !w.tx.CanInsertScanning() || len(children) > 0 || w.r.hasRollups {
		return false
	}
	if lr := w.s.logic.Resource(w.r.Name); lr != nil && (lr.HasEffects(spec.OpCreate) || len(lr.Parents) > 0) {
		return false
	}
	for _, f := range w.r.Fields {
		if _, sent := given[f.Name]; sent && f.IsToMany() {
			return false
		}
	}
	return true
}

// create validates in and inserts the record, then its children, effects and rollups.
func (w *write) create(ctx context.Context, in map[string]any, hash, id string) (*store.Record, error) {
	r := w.r
	var roleErrs fieldErrors
	w.s.checkWriteRoles(ctx, r, in, &roleErrs) // nested fields' write roles too, before they are taken out
	children, in, errs := w.takeNested(in)
	errs = append(errs, roleErrs...)
	now := w.s.nowUTC()
	rec := &store.Record{ID: w.s.newID(), CreatedAt: now, UpdatedAt: now, Version: 1, Values: r.defaults(now, PrincipalFrom(ctx))}
	if id != "" {
		ok := false
		if rec.ID, ok = validID(id); !ok {
			errs.add("id", "format", "must be a UUID")
		}
	}
	r.apply(rec, in, &errs)
	if err := w.applyTyped(rec); err != nil {
		return nil, err
	}
	r.setPasswordHash(rec.Values, hash)
	if err := w.s.lockCreate(ctx, w.tx, r, rec); err != nil {
		return nil, err
	}
	if err := w.checkRelations(ctx, rec, in, &errs); err != nil {
		return nil, err
	}
	if err := w.computedLinks(errs, in); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		w.childrenErrors(ctx, rec.ID, children, &errs)
	}
	lv, err := w.runLogic(ctx, spec.OpCreate, rec, nil, in, true, &errs)
	if err != nil {
		return nil, err
	}
	if err := w.judge(ctx, rec, errs, lv, "the access rule for create on %s does not allow this record"); err != nil {
		return nil, err
	}
	if in, lv, err = w.hooked(ctx, spec.OpCreate, rec, nil, in, true, lv); err != nil {
		return nil, err
	}
	if w.foldInsert(w.given(in), children) {
		w.unwritten = rec // written with its event (appendEvent)
		return w.noted(ctx, spec.OpCreate, rec, w.emit(ctx, events.OpCreate, "", nil, rec))
	}
	if err := w.tx.Insert(ctx, r.Name, rec); err != nil {
		return nil, err
	}
	if err := w.s.writeLinks(ctx, w.tx, r, rec, w.given(in)); err != nil {
		return nil, err
	}
	if rec, err = w.after(ctx, spec.OpCreate, rec, nil, lv, children); err != nil {
		return nil, err
	}
	return w.noted(ctx, spec.OpCreate, rec, w.emit(ctx, events.OpCreate, "", nil, rec))
}

// noted notes rec as written by op when err is nil (noteWritten), and returns them.
func (w *write) noted(ctx context.Context, op spec.Operation, rec *store.Record, err error) (*store.Record, error) {
	if err == nil {
		noteWritten(ctx, w.r, op, rec)
	}
	return rec, err
}

// updateArgs say how an update changes its record.
type updateArgs struct {
	full    bool   // PUT: absent fields return to their defaults
	hash    string // a new password hash
	ifMatch *Match
}

// update applies in (or typed values) to the record id.
func (w *write) update(ctx context.Context, id string, in map[string]any, a updateArgs) (*store.Record, error) {
	r := w.r
	cur, err := w.read, error(nil)
	if cur == nil {
		if err := w.s.lockAhead(ctx, w.tx, r, spec.OpUpdate, id, in, w.typed, a.full); err != nil {
			return nil, err
		}
		if cur, err = w.tx.GetForUpdate(ctx, r.Name, id, w.cond); err != nil {
			return nil, w.hidden(err, id, spec.ActionUpdate)
		}
		if err := w.stillAllowed(ctx, cur); err != nil {
			return nil, w.hidden(err, id, spec.ActionUpdate)
		}
	}
	if !a.ifMatch.holds(r.Resource, cur) {
		return nil, store.ErrStale
	}
	if in, err = w.s.guardAccountUpdate(ctx, r, cur, in); err != nil {
		return nil, err
	}
	old := &store.Record{ID: cur.ID, CreatedAt: cur.CreatedAt, UpdatedAt: cur.UpdatedAt, Version: cur.Version,
		Values: append([]any(nil), cur.Values...)}
	var errs fieldErrors
	rec := w.s.updateValues(ctx, r, cur, in, a.full, &errs)
	if err := w.applyTyped(rec); err != nil {
		return nil, err
	}
	r.setPasswordHash(rec.Values, a.hash)
	if err := w.checkRelations(ctx, rec, in, &errs); err != nil {
		return nil, err
	}
	if err := w.computedLinks(errs, in); err != nil {
		return nil, err
	}
	lv, err := w.runLogic(ctx, spec.OpUpdate, rec, old, in, a.full, &errs)
	if err != nil {
		return nil, err
	}
	if err := w.judge(ctx, rec, errs, lv, "the access rule for update on %s does not allow this change"); err != nil {
		return nil, err
	}
	if in, lv, err = w.hooked(ctx, spec.OpUpdate, rec, old, in, a.full, lv); err != nil {
		return nil, err
	}
	if len(w.typed) == 0 && a.hash == "" && w.unchanged(old, rec, in) {
		w.noop = true
		return old, nil
	}
	if w.read != nil { // its row goes with its event (appendUpdated), or not at all
		if !w.foldUpdate(in, old, rec, a.full) {
			return nil, errMoved
		}
		rec.Version = old.Version + 1
		w.unwritten, w.unwrittenOld = rec, old
		return w.noted(ctx, spec.OpUpdate, rec, w.emit(ctx, events.OpUpdate, "", old, rec))
	}
	if err := w.tx.UpdateFrom(ctx, r.Name, rec, old, rec.Version); err != nil {
		return nil, err
	}
	if err := w.s.writeLinks(ctx, w.tx, r, rec, w.given(in)); err != nil {
		return nil, err
	}
	if rec, err = w.after(ctx, spec.OpUpdate, rec, old, lv, nil); err != nil {
		return nil, err
	}
	return w.noted(ctx, spec.OpUpdate, rec, w.emit(ctx, events.OpUpdate, "", old, rec))
}

// delete removes the record id after its delete rules, then runs its effects and rollups.
func (w *write) delete(ctx context.Context, id string, ifMatch *Match) (*store.Record, error) {
	r := w.r
	if err := w.s.lockAhead(ctx, w.tx, r, spec.OpDelete, id, nil, nil, false); err != nil {
		return nil, err
	}
	old, err := w.tx.GetForDelete(ctx, r.Name, id, w.cond)
	if err != nil {
		return nil, w.hidden(err, id, spec.ActionDelete)
	}
	if err := w.stillAllowed(ctx, old); err != nil {
		return nil, w.hidden(err, id, spec.ActionDelete)
	}
	if !ifMatch.holds(r.Resource, old) {
		return nil, store.ErrStale
	}
	var errs fieldErrors
	lv, err := w.runLogic(ctx, spec.OpDelete, old, old, nil, false, &errs)
	if err != nil {
		return nil, err
	}
	if err := w.verdict(errs, lv); err != nil {
		return nil, err
	}
	if err := w.s.before(ctx, r.Name, spec.OpDelete, old); err != nil {
		return nil, w.prefix(err)
	}
	if lv != nil { // effects with each: read the children before they are gone
		if err := w.effects(ctx, spec.OpDelete, lv); err != nil {
			return nil, err
		}
	}
	version := int64(0) // none: delete whatever version is stored
	if ifMatch != nil {
		version = old.Version // the one If-Match named (holds)
	}
	if err := w.tx.Delete(ctx, r.Name, id, version); err != nil {
		return nil, err
	}
	if err := w.rollups(ctx, old, nil); err != nil {
		return nil, err
	}
	return w.noted(ctx, spec.OpDelete, old, w.emit(ctx, events.OpDelete, "", old, nil))
}

// after runs what follows the row write: nested children, effects, parents' rollups; the
// record is read again when its own rollups changed.
func (w *write) after(ctx context.Context, op spec.Operation, rec, old *store.Record, lv *logicRun, children map[string][]map[string]any) (*store.Record, error) {
	if err := w.createChildren(ctx, rec, children); err != nil {
		return nil, err
	}
	if lv != nil {
		if err := w.effects(ctx, op, lv); err != nil {
			return nil, err
		}
	}
	if err := w.rollups(ctx, rec, old); err != nil {
		return nil, err
	}
	if len(children) == 0 && !w.r.hasRollups {
		return rec, nil
	}
	return w.tx.Get(ctx, w.r.Name, rec.ID, nil)
}

// given is the input whose relation fields were sent (typed values count as sent).
func (w *write) given(in map[string]any) map[string]any {
	if len(w.typed) == 0 {
		return in
	}
	out := make(map[string]any, len(in)+len(w.typed))
	for k, v := range in {
		out[k] = v
	}
	for k, v := range w.typed {
		out[k] = v
	}
	return out
}

// updateValues computes the record after the write: PUT starts from defaults but keeps the
// account's password hash and what only the system sets.
func (s *Service) updateValues(ctx context.Context, r *resource, cur *store.Record, in map[string]any, full bool, errs *fieldErrors) *store.Record {
	now := s.nowUTC()
	if full {
		p := PrincipalFrom(ctx)
		fresh := r.defaults(now, p)
		for i, f := range r.Fields {
			_, given := in[f.Name]
			keep := f.Readonly || (f.IsToMany() && !given) ||
				(len(f.Write) > 0 && !isSystem(ctx) && s.rules != nil && !p.HasRole(f.Write...))
			if keep {
				fresh[i] = cur.Values[i]
			}
		}
		cur.Values = fresh
	}
	cur.UpdatedAt = following(cur.UpdatedAt, now)
	s.checkWriteRoles(ctx, r, in, errs)
	r.apply(cur, in, errs)
	return cur
}

// following is now as a new version's updated_at after one stamped prev: a microsecond after
// prev when now is not later (another instance's clock ahead), so that a record's updated_at
// moves forward with its versions — as a blind update's does (store.Exec.UpdateBlind).
func following(prev, now time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Microsecond)
}

// unchanged reports whether an update leaves every field of the record as it was: a PATCH
// of {} or of the values it holds writes nothing — no new version (another client's If-Match
// still holds), no updated_at, no event, webhook, effect or after-hook — and answers the
// record as it stands. Links compare in order (their order is kept); a link field the record
// was read without (nil) counts as changed when the request gives it.
// A link field sent whose targets may be soft-deleted is always written: the stored links
// to deleted targets are not read, and a PATCH that drops one would keep it (restored with
// its target). JSON compares by content (PostgreSQL gives it back in its own layout).
// A hidden field sent is always written too: whether the answer's version moved would tell
// the writer if it guessed the value it may never read.
func (w *write) unchanged(old, rec *store.Record, in map[string]any) bool {
	for i, f := range w.r.Fields {
		_, sent := in[f.Name]
		if sent && (f.Hidden || f.IsToMany() && w.s.spec.Resource(f.Relation.To).SoftDelete) {
			return false
		}
		if f.Type == spec.TypeJSON && sameJSON(old.Values[i], rec.Values[i]) {
			continue
		}
		if !sameValue(old.Values[i], rec.Values[i]) {
			return false
		}
	}
	return true
}

// sameJSON reports whether two stored JSON texts hold the same value.
func sameJSON(a, b any) bool {
	x, okA := a.(string)
	y, okB := b.(string)
	if !okA || !okB {
		return false
	}
	var u, v any
	return decodeJSON(x, &u) == nil && decodeJSON(y, &v) == nil && reflect.DeepEqual(u, v)
}

func decodeJSON(s string, v *any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(v)
}
