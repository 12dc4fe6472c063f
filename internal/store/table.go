package store

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kiln-dev/kiln/internal/spec"
)

// VersionColumn holds each row's version, for ETag and If-Match.
const VersionColumn = "kiln_version"

// DeletedColumn holds when a record of a soft-delete resource was deleted (NULL: live).
const DeletedColumn = "kiln_deleted_at"

// table is the SQL shape of one resource, computed once at Open.
type table struct {
	res        *spec.Resource
	name       string
	cols       []column          // stored fields, in field order
	links      []column          // to-many fields, read through linkedIDs after cols
	linkSQL    []string          // per link: its linkedIDs expression
	selectList string            // system columns then cols
	soft       bool              // soft delete: rows with DeletedColumn set are hidden from reads
	live       map[string]string // per N:M field: the join-row condition hiding deleted targets
	tables     map[string]*table // every table of the spec, for conditions that follow relations
	byField    map[string]int
	// Fixed statements, rendered once for the dialect.
	insertSQL, updateSQL, updateIfSQL, getSQL string
	insertSelect                              string
	// updatePrefix is the start of every UPDATE: the table, updated_at (?1) and the version bump.
	updatePrefix string
	targets      sync.Pool // *scanTargets, handed back once a result is read
	poolTargets  sync.Pool // *scanTargets of pgx's own types, for reads on pgx's pool
	renderOnce   sync.Once // render: the event JSON as SQL, for blind updates (update_blind.go)
	render       atomic.Pointer[eventRender]
	blindTexts   sync.Map     // blind updates' statements by the fields they set (*blindText)
	blindKept    atomic.Int64 // statements built for blindTexts (at most maxBlindTexts kept)
}

type column struct {
	field *spec.Field
	idx   int // index into Record.Values and res.Fields
	name  string
	kind  kind
	scale int
}

func buildTables(s *spec.Spec, d dialect) map[string]*table {
	out := make(map[string]*table, len(s.Resources))
	for _, r := range s.Resources {
		t := &table{res: r, name: r.Name, byField: map[string]int{}, soft: r.SoftDelete}
		names := []string{quote("id"), quote("created_at"), quote("updated_at"), quote(VersionColumn)}
		var linkCols []string
		for i, f := range r.Fields {
			if f.IsToMany() {
				join, self, other := r.JoinTable(f)
				t.links = append(t.links, column{field: f, idx: i, name: f.Name})
				linkCols = append(linkCols, d.linkedIDs(join, self, other, r.Name, liveTarget(s, f, join, other)))
				continue
			}
			if !f.Stored() {
				continue
			}
			t.byField[f.Name] = len(t.cols)
			t.cols = append(t.cols, column{field: f, idx: i, name: f.Column(), kind: kindOf(f), scale: f.Scale})
			names = append(names, quote(f.Column()))
		}
		t.selectList = strings.Join(append(names, linkCols...), ", ")
		t.linkSQL = linkCols
		t.live = t.linkLive(s)
		t.renderFixed(d)
		out[r.Name] = t
	}
	for _, t := range out {
		t.tables = out
	}
	return out
}

// columnFor resolves a spec field name (or system field) to a quoted column and kind.
func (t *table) columnFor(field string) (string, kind, int, bool) {
	switch field {
	case "id":
		return quote("id"), kUUID, 0, true
	case "created_at", "updated_at":
		return quote(field), kTime, 0, true
	}
	i, ok := t.byField[field]
	if !ok {
		return "", 0, 0, false
	}
	c := t.cols[i]
	return quote(c.name), c.kind, c.scale, true
}

// notNull: the field's column is NOT NULL (the record columns, and required fields, whose
// columns the migrations create NOT NULL).
func (t *table) notNull(field string) bool {
	switch field {
	case "id", "created_at", "updated_at":
		return true
	}
	i, ok := t.byField[field]
	return ok && t.cols[i].field.Required
}

// FieldForColumn maps a column name back to its field name, for constraint errors.
func (s *Store) FieldForColumn(resource, col string) string {
	t := s.tables[resource]
	if t == nil {
		return col
	}
	for _, c := range t.cols {
		if c.name == col {
			return c.field.Name
		}
	}
	return col
}

// renderFixed renders the statements whose text depends only on the table. Arguments:
// insert: id, created_at, updated_at, version, cols...; update: updated_at, cols..., id
// [, version]; get: id.
func (t *table) renderFixed(d dialect) {
	n := 0
	ph := func() string { n++; return d.placeholder(n) }
	cols := []string{quote("id"), quote("created_at"), quote("updated_at"), quote(VersionColumn)}
	phs := []string{ph(), ph(), ph(), ph()}
	for _, c := range t.cols {
		cols = append(cols, quote(c.name))
		phs = append(phs, ph())
	}
	t.insertSQL = "INSERT INTO " + quote(t.name) + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(phs, ", ") + ")"
	// INSERT … SELECT (for a guarded insert: a WHERE can follow): PostgreSQL types the bare
	// parameters of an INSERT's SELECT list by their target columns, as it does in VALUES.
	t.insertSelect = "INSERT INTO " + quote(t.name) + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(phs, ", ")
	n = 0
	set := []string{quote("updated_at") + " = " + ph(), quote(VersionColumn) + " = " + quote(VersionColumn) + " + 1"}
	for _, c := range t.cols {
		set = append(set, quote(c.name)+" = "+ph())
	}
	t.updatePrefix = "UPDATE " + quote(t.name) + " SET " + strings.Join(set[:2], ", ")
	t.updateSQL = "UPDATE " + quote(t.name) + " SET " + strings.Join(set, ", ") + " WHERE " + quote("id") + " = " + ph() + t.andLive()
	t.updateIfSQL = t.updateSQL + " AND " + quote(VersionColumn) + " = " + ph()
	n = 0
	t.getSQL = "SELECT " + t.selectList + " FROM " + quote(t.name) + " WHERE " + quote("id") + " = " + ph() + t.andLive()
}
