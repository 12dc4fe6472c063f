package store

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

// Record is one row of a resource. Values is indexed like the resource's Fields: stored
// fields hold typed values (string, int64, float64, bool, value.Decimal, time.Time, or nil),
// to-many fields hold []string ids once loaded, inverse fields hold nil.
type Record struct {
	ID        string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
	Values    []any
}

// scanTargets are reused for every row of a result: decode copies what it keeps.
type scanTargets struct {
	id      string
	version int64
	all     []any
}

func (t *table) newTargets(d dialect) *scanTargets {
	return t.newTargetsOf(d.scanTarget, func() any { return new(sql.NullString) })
}

// newTargetsOf makes a row's targets: target(kind) for the timestamps and the columns, link()
// for each to-many field's ids.
func (t *table) newTargetsOf(target func(kind) any, link func() any) *scanTargets {
	st := &scanTargets{all: make([]any, 0, 4+len(t.cols)+len(t.links))}
	st.all = append(st.all, &st.id, target(kTime), target(kTime), &st.version)
	for _, c := range t.cols {
		st.all = append(st.all, target(c.kind))
	}
	for range t.links {
		st.all = append(st.all, link())
	}
	return st
}

// rowSource is a result's rows: database/sql's or pgx's.
type rowSource interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func (t *table) scanRecord(d dialect, rows rowSource, st *scanTargets) (*Record, error) {
	if err := rows.Scan(st.all...); err != nil {
		return nil, fmt.Errorf("scan %s: %w", t.name, err)
	}
	return t.decodeTargets(d, st)
}

// decodeTargets makes the record a row scanned into st holds.
func (t *table) decodeTargets(d dialect, st *scanTargets) (*Record, error) {
	created, updated, targets := st.all[1], st.all[2], st.all
	rec := &Record{ID: st.id, Version: st.version, Values: make([]any, len(t.res.Fields))}
	var err error
	if rec.CreatedAt, err = decodeStamp(d, created); err != nil {
		return nil, err
	}
	if rec.UpdatedAt, err = decodeStamp(d, updated); err != nil {
		return nil, err
	}
	for i, c := range t.cols {
		v, err := d.decode(c.kind, c.scale, targets[4+i])
		if err != nil {
			return nil, fmt.Errorf("decode %s.%s: %w", t.name, c.name, err)
		}
		rec.Values[c.idx] = v
	}
	for i, c := range t.links {
		ids := []string{}
		if s := linkText(targets[4+len(t.cols)+i]); s != "" {
			ids = strings.Split(s, ",")
		}
		rec.Values[c.idx] = ids
	}
	return rec, nil
}

// decodeStamp is decode of a record's created_at or updated_at without putting the time in an
// interface on the way (two allocations per row read).
func decodeStamp(d dialect, target any) (time.Time, error) {
	switch t := target.(type) {
	case *sql.NullString: // SQLite's text
		if !t.Valid {
			return time.Time{}, nil
		}
		return value.ParseTime(t.String)
	case *sql.NullTime: // PostgreSQL's timestamptz
		if !t.Valid {
			return time.Time{}, nil
		}
		return t.Time.UTC(), nil
	case *pgtype.Timestamptz: // the same, read on pgx's pool
		if !t.Valid {
			return time.Time{}, nil
		}
		if t.InfinityModifier != pgtype.Finite {
			return time.Time{}, errInfinite
		}
		return t.Time.UTC(), nil
	}
	v, err := d.decode(kTime, 0, target)
	tm, _ := v.(time.Time)
	return tm, err
}

func (t *table) scanAll(d dialect, rows *sql.Rows) ([]*Record, error) {
	defer rows.Close()
	return t.scanRows(d, rows)
}

// scanRows reads every record of rows; the caller closes them.
func (t *table) scanRows(d dialect, rows rowSource) ([]*Record, error) {
	st, _ := t.targets.Get().(*scanTargets)
	if st == nil {
		st = t.newTargets(d)
	}
	// decode copies out what a record keeps, so the targets serve the next result.
	defer t.targets.Put(st)
	return t.scanEach(d, rows, st)
}

// scanPoolRows is scanRows for rows read straight on pgx's pool, into pgx's own types.
func (t *table) scanPoolRows(d dialect, rows rowSource) ([]*Record, error) {
	st, _ := t.poolTargets.Get().(*scanTargets)
	if st == nil {
		st = t.newTargetsOf(poolTarget, func() any { return new(pgtype.Text) })
	}
	defer t.poolTargets.Put(st)
	return t.scanEach(d, rows, st)
}

// scanEach reads every record of rows into st.
func (t *table) scanEach(d dialect, rows rowSource, st *scanTargets) ([]*Record, error) {
	var out []*Record
	for rows.Next() {
		rec, err := t.scanRecord(d, rows, st)
		if err != nil {
			// database/sql closes the rows when the context ends, and a Scan after that
			// fails with the context's error: a timeout like any other.
			return nil, d.interpret(err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, d.interpret(err)
	}
	return out, nil
}

// Field returns the value of a field by name, the system fields (id, created_at, updated_at)
// included; nil when r has no such field.
func (rec *Record) Field(r *spec.Resource, name string) any {
	switch name {
	case "id":
		return rec.ID
	case "created_at":
		return rec.CreatedAt
	case "updated_at":
		return rec.UpdatedAt
	}
	for i, f := range r.Fields {
		if f.Name == name && i < len(rec.Values) {
			return rec.Values[i]
		}
	}
	return nil
}

// linkText is the comma-separated ids a to-many field's target holds ("" for none).
func linkText(target any) string {
	switch t := target.(type) {
	case *sql.NullString:
		if t.Valid {
			return t.String
		}
	case *pgtype.Text:
		if t.Valid {
			return t.String
		}
	}
	return ""
}
