package store

import (
	"database/sql"
	"fmt"
	"time"
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

func (t *table) scanRecord(d dialect, rows *sql.Rows) (*Record, error) {
	var id string
	var created, updated any
	var version int64
	targets := make([]any, 0, 4+len(t.cols))
	timeTarget := func() any { return d.scanTarget(kTime) }
	created, updated = timeTarget(), timeTarget()
	targets = append(targets, &id, created, updated, &version)
	for _, c := range t.cols {
		targets = append(targets, d.scanTarget(c.kind))
	}
	if err := rows.Scan(targets...); err != nil {
		return nil, fmt.Errorf("scan %s: %w", t.name, err)
	}
	rec := &Record{ID: id, Version: version, Values: make([]any, len(t.res.Fields))}
	ct, err := d.decode(kTime, 0, created)
	if err != nil {
		return nil, err
	}
	ut, err := d.decode(kTime, 0, updated)
	if err != nil {
		return nil, err
	}
	rec.CreatedAt, _ = ct.(time.Time)
	rec.UpdatedAt, _ = ut.(time.Time)
	for i, c := range t.cols {
		v, err := d.decode(c.kind, c.scale, targets[4+i])
		if err != nil {
			return nil, fmt.Errorf("decode %s.%s: %w", t.name, c.name, err)
		}
		rec.Values[c.idx] = v
	}
	return rec, nil
}

func (t *table) scanAll(d dialect, rows *sql.Rows) ([]*Record, error) {
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		rec, err := t.scanRecord(d, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, d.interpret(err)
	}
	return out, nil
}
