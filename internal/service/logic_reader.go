package service

import (
	"context"
	"errors"
	"math"
	"reflect"
	"time"

	"github.com/kiln-dev/kiln/internal/logic"
	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// txReader lets business logic read other records inside the write's transaction.
type txReader struct {
	s  *Service
	tx *store.Exec
	// seen: records already read in this transaction and not written since (by seenKey).
	seen map[string]*store.Record
}

var _ logic.Reader = (*txReader)(nil)

func (r *txReader) Lock(ctx context.Context, resource, id string) error {
	if _, ok := validID(id); !ok || r.s.resources[resource] == nil {
		return nil // nothing to lock: the read that follows finds nothing
	}
	if r.seen[seenKey(resource, id)] != nil {
		return nil // the relation check locked it before reading it
	}
	return r.tx.LockRow(ctx, resource, id)
}

// LockSet locks the set of resource's records for a count whose filter pins no parent, until
// the transaction ends (PostgreSQL; nothing outside a write's transaction, nor on SQLite).
func (r *txReader) LockSet(ctx context.Context, resource string) error {
	if !r.tx.LocksRows() || r.s.resources[resource] == nil {
		return nil
	}
	return r.tx.LockTx(ctx, "kiln.count:"+resource)
}

func (r *txReader) Count(ctx context.Context, resource string, where query.Cond) (int64, error) {
	return r.tx.Count(ctx, resource, where)
}

func (r *txReader) Get(ctx context.Context, resource, id string) (*logic.Record, error) {
	res := r.s.resources[resource]
	if _, ok := validID(id); !ok || res == nil {
		return nil, nil
	}
	if rec := r.seen[seenKey(resource, id)]; rec != nil {
		return logicRecord(res, rec), nil
	}
	rec, err := r.tx.Get(ctx, resource, id, nil)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return logicRecord(res, rec), nil
}

func (r *txReader) Aggregate(ctx context.Context, resource, fn, field string, where query.Cond) (any, error) {
	return r.tx.Aggregate(ctx, resource, fn, field, where)
}

func (r *txReader) IDs(ctx context.Context, resource string, where query.Cond, limit int) ([]string, error) {
	res, err := r.tx.List(ctx, resource, query.List{Where: where, Sort: []query.Sort{{Field: "created_at"}}, Limit: limit})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(res.Records))
	for i, rec := range res.Records {
		ids[i] = rec.ID
	}
	return ids, nil
}

// logicRecord is a record as expressions see it: fields by name, nulls absent.
func logicRecord(r *resource, rec *store.Record) *logic.Record {
	fields := make(map[string]any, len(r.Fields)+3)
	fields["id"], fields["created_at"], fields["updated_at"] = rec.ID, rec.CreatedAt, rec.UpdatedAt
	for i, f := range r.Fields {
		if v := rec.Values[i]; v != nil && !f.IsInverse() {
			fields[f.Name] = v
		}
	}
	return &logic.Record{Resource: r.Name, Fields: fields}
}

// logicVars are the values expressions of a write see.
func (s *Service) logicVars(ctx context.Context, r *resource, rec, old *store.Record, op string) *logic.Vars {
	v := &logic.Vars{Record: logicRecord(r, rec), Now: s.nowUTC(), Operation: op}
	if old != nil {
		v.Old = logicRecord(r, old)
	}
	if p := PrincipalFrom(ctx); p != nil {
		v.Auth = &logic.Auth{ID: p.ID, Role: p.Role, Roles: []string{p.Role}, Key: p.KeyID}
	}
	return v
}

// convertNumber turns an aggregate (int64, float64 or a decimal at its own scale) into the
// value of a number field f; decimals are rescaled exactly, or rounded half away from zero.
func convertNumber(f *spec.Field, v any) any {
	switch f.Type {
	case spec.TypeInteger:
		switch x := v.(type) {
		case int64:
			return x
		case float64:
			return int64(math.Round(x))
		case value.Decimal:
			return x.Units / value.Pow10(x.Scale)
		}
	case spec.TypeNumber:
		switch x := v.(type) {
		case int64:
			return float64(x)
		case float64:
			return x
		case value.Decimal:
			return x.Float()
		}
	case spec.TypeDecimal:
		return toScale(v, f.Scale)
	}
	return v
}

func toScale(v any, scale int) any {
	switch x := v.(type) {
	case int64:
		return value.FromUnits(scaleUp(x, scale), scale)
	case float64:
		f := math.Round(x * float64(value.Pow10(scale)))
		if math.IsNaN(f) || math.Abs(f) >= math.MaxInt64 {
			return value.FromUnits(math.MaxInt64, scale) // too large: see scaleUp
		}
		return value.FromUnits(int64(f), scale)
	case value.Decimal:
		if x.Scale <= scale {
			return value.FromUnits(scaleUp(x.Units, scale-x.Scale), scale)
		}
		div := value.Pow10(x.Scale - scale)
		q, r := x.Units/div, x.Units%div
		if 2*abs(r) >= div {
			q += sign(x.Units)
		}
		return value.FromUnits(q, scale)
	}
	return v
}

// scaleUp is units × 10^n, or ±MaxInt64 where that overflows an int64: 19 digits, more than
// any decimal field holds (value.MaxPrecision), so the value is refused as too large when it
// is checked against its field (rules.check), never stored wrapped around (a sum of
// 184467440737095517 at scale 2 was stored as 0.84).
func scaleUp(units int64, n int) int64 {
	p := value.Pow10(n)
	if units > math.MaxInt64/p || units < -(math.MaxInt64/p) {
		if units < 0 {
			return -math.MaxInt64
		}
		return math.MaxInt64
	}
	return units * p
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int64) int64 {
	if n < 0 {
		return -1
	}
	return 1
}

func sameValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return reflect.DeepEqual(a, b)
}
