// Package migrate turns the spec into a SQL schema, diffs it against the schema Kiln last
// applied, writes versioned up/down migration files and applies them, each in a transaction.
package migrate

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// Schema is the dialect-neutral shape of the database a spec needs.
type Schema struct {
	Tables []Table `json:"tables"`
	// Enums is set on schemas that record their columns' enum values (all Kiln writes now):
	// the values are compared only between two such schemas, so a file written before they
	// were recorded does not read as every enum being new.
	Enums bool `json:"enums,omitempty"`
}

// Table is one table.
type Table struct {
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	Indexes []Index  `json:"indexes,omitempty"`
	// PrimaryKey lists the key columns; join tables use a compound key.
	PrimaryKey []string `json:"primary_key"`
}

// Column is one column; Type is neutral: uuid, text, integer, real, decimal(p,s), boolean,
// timestamp, date, json.
type Column struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	NotNull    bool    `json:"not_null,omitempty"`
	Default    *string `json:"default,omitempty"` // the spec's default text
	References string  `json:"references,omitempty"`
	OnDelete   string  `json:"on_delete,omitempty"`
	// Enum lists the values an enum field's text column may hold, as the spec orders them.
	Enum []string `json:"enum,omitempty"`
}

// Index is one index.
type Index struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique,omitempty"`
	// Live makes the index partial over live rows (soft delete): a deleted record does not
	// hold its unique values.
	Live bool `json:"live,omitempty"`
	// Dialect, when set, is the one dialect the index exists on ("postgres"): Diff leaves it
	// out of the other dialect's schema.
	Dialect string `json:"dialect,omitempty"`
}

// SessionsTable holds refresh-token sessions; it exists when the spec has an auth block.
const SessionsTable = "kiln_sessions"

// FromSpec derives the schema a spec needs.
func FromSpec(s *spec.Spec) Schema {
	out := Schema{Enums: true}
	for _, r := range s.Resources {
		out.Tables = append(out.Tables, resourceTable(r))
		for _, f := range r.Fields {
			if f.IsToMany() {
				out.Tables = append(out.Tables, joinTable(r, f))
			}
		}
	}
	if s.Auth != nil {
		out.Tables = append(out.Tables, sessionsTable(), apiKeysTable(), actionTokensTable(), revocationsTable())
	}
	out.Tables = append(out.Tables, idempotencyTable(), eventsTable())
	if s.Webhooks.Enabled {
		out.Tables = append(out.Tables, webhookTables()...)
	}
	if len(s.Webhooks.Incoming) > 0 {
		out.Tables = append(out.Tables, webhookInboxTable())
	}
	if s.Payments.Enabled() {
		out.Tables = append(out.Tables, paymentTables()...)
	}
	return out
}

// EventsTable is the outbox: one row per committed create, update, delete and action,
// written in the write's transaction (internal/events). Its id only grows: live updates
// resume from it.
const EventsTable = "kiln_events"

func eventsTable() Table {
	return Table{Name: EventsTable, PrimaryKey: []string{"id"}, Columns: []Column{
		{Name: "id", Type: "serial", NotNull: true},
		{Name: "resource", Type: "text", NotNull: true},
		{Name: "operation", Type: "text", NotNull: true}, // create, update, delete or action
		{Name: "action", Type: "text"},                   // the action's name
		{Name: "record_id", Type: "text", NotNull: true},
		{Name: "old_values", Type: "text"},                   // JSON of the record before; null on create
		{Name: "new_values", Type: "text"},                   // JSON of the record after; null on delete
		{Name: "principal", Type: "text"},                    // the account or API key id; null for the system
		{Name: "created_at", Type: "integer", NotNull: true}, // unix microseconds
		// PostgreSQL: the writing transaction's id (pg_current_xact_id), for operators; live
		// updates read by id (events.Horizon). 0 on SQLite.
		{Name: "txid", Type: "integer", NotNull: true, Default: ptr("0")},
		// The index is PostgreSQL's only, for the sweep: on SQLite events are swept in id order
		// (one writer at a time: ids and created_at grow together), and every index is one more
		// page each write's commit writes. Live updates read by the primary key on both.
	}, Indexes: []Index{{Name: EventsTable + "_created_idx", Columns: []string{"created_at"}, Dialect: "postgres"}}}
}

// IdempotencyTable remembers the answers to requests sent with an Idempotency-Key, written in
// the same transaction as the write they answer (internal/idempotency).
const IdempotencyTable = "kiln_idempotency"

func idempotencyTable() Table {
	return Table{Name: IdempotencyTable, PrimaryKey: []string{"scope", "key"}, Columns: []Column{
		{Name: "scope", Type: "text", NotNull: true},       // the principal: account, API key or anon
		{Name: "key", Type: "text", NotNull: true},         // the client's Idempotency-Key
		{Name: "fingerprint", Type: "text", NotNull: true}, // SHA-256 of method, path and body
		{Name: "state", Type: "text", NotNull: true},       // running or done
		{Name: "status", Type: "integer"},
		{Name: "headers", Type: "text"}, // the answer's Location and ETag, as JSON
		{Name: "body", Type: "text"},
		{Name: "created_at", Type: "integer", NotNull: true}, // unix microseconds
		{Name: "expires_at", Type: "integer", NotNull: true},
	}, Indexes: []Index{{Name: IdempotencyTable + "_expires_idx", Columns: []string{"expires_at"}}}}
}

func resourceTable(r *spec.Resource) Table {
	t := Table{Name: r.Name, PrimaryKey: []string{"id"}, Columns: []Column{
		{Name: "id", Type: "uuid", NotNull: true},
		{Name: "created_at", Type: "timestamp", NotNull: true},
		{Name: "updated_at", Type: "timestamp", NotNull: true},
		{Name: store.VersionColumn, Type: "integer", NotNull: true, Default: ptr("1")},
	}}
	for _, f := range r.Fields {
		if !f.Stored() {
			continue
		}
		c := Column{Name: f.Column(), Type: columnType(f), NotNull: f.Required}
		if f.Type == spec.TypeEnum {
			c.Enum = slices.Clone(f.Values)
		}
		// Defaults the server computes per request (now, auth.id) are not column defaults.
		if f.HasDefault && f.Default != nil && f.Default != "auth.id" && !(f.Type == spec.TypeDatetime && f.Default == "now") {
			d := f.Default.(string)
			c.Default = &d
		}
		if f.Relation != nil {
			c.References, c.OnDelete = f.Relation.To, "SET NULL"
			if f.Required {
				c.OnDelete = "RESTRICT"
			}
		}
		t.Columns = append(t.Columns, c)
		if f.Unique {
			t.Indexes = append(t.Indexes, Index{Name: indexName(r.Name, []string{c.Name}, true), Columns: []string{c.Name}, Unique: true})
		} else if f.Relation != nil {
			t.Indexes = append(t.Indexes, Index{Name: indexName(r.Name, []string{c.Name}, false), Columns: []string{c.Name}})
		}
	}
	addDeclaredIndexes(&t, r)
	if r.SoftDelete {
		t.Columns = append(t.Columns, Column{Name: store.DeletedColumn, Type: "timestamp"})
		for i := range t.Indexes {
			t.Indexes[i].Live = t.Indexes[i].Unique
		}
		t.Indexes = append(t.Indexes, Index{Name: r.Name + "_" + store.DeletedColumn + "_idx", Columns: []string{store.DeletedColumn}})
	}
	return t
}

func addDeclaredIndexes(t *Table, r *spec.Resource) {
	for _, ix := range r.Indexes {
		cols := make([]string, len(ix.Fields))
		for i, name := range ix.Fields {
			cols[i] = name
			if f := r.Field(name); f != nil {
				cols[i] = f.Column()
			}
		}
		name := ix.Name
		if name == "" {
			name = indexName(r.Name, cols, ix.Unique)
		}
		t.Indexes = addIndex(t.Indexes, Index{Name: name, Columns: cols, Unique: ix.Unique})
	}
}

// addIndex adds ix unless an index of that name exists (a declared index may repeat an implied one).
func addIndex(list []Index, ix Index) []Index {
	for i, existing := range list {
		if existing.Name == ix.Name {
			list[i] = ix
			return list
		}
	}
	return append(list, ix)
}

// sessionsTable stores refresh tokens hashed: one row per issued token, rows of one login
// share a family so reuse of a rotated token can revoke them all.
func sessionsTable() Table {
	return Table{Name: SessionsTable, PrimaryKey: []string{"token_hash"}, Columns: []Column{
		{Name: "token_hash", Type: "text", NotNull: true},
		{Name: "family_id", Type: "text", NotNull: true},
		{Name: "account_id", Type: "text", NotNull: true},
		// Unix microseconds: compared in SQL the same way on every dialect.
		{Name: "created_at", Type: "integer", NotNull: true},
		{Name: "expires_at", Type: "integer", NotNull: true},
		{Name: "rotated_at", Type: "integer"},
		{Name: "revoked_at", Type: "integer"},
	}, Indexes: []Index{
		{Name: SessionsTable + "_family_idx", Columns: []string{"family_id"}},
		{Name: SessionsTable + "_account_idx", Columns: []string{"account_id"}},
		{Name: SessionsTable + "_expires_idx", Columns: []string{"expires_at"}}, // the cleanup's scan
	}}
}

// APIKeysTable holds API keys, their secrets hashed; it exists when the spec has auth.
const APIKeysTable = "kiln_api_keys"

func apiKeysTable() Table {
	return Table{Name: APIKeysTable, PrimaryKey: []string{"id"}, Columns: []Column{
		{Name: "id", Type: "text", NotNull: true},
		{Name: "prefix", Type: "text", NotNull: true},
		{Name: "secret_hash", Type: "text", NotNull: true},
		{Name: "name", Type: "text", NotNull: true},
		{Name: "role", Type: "text", NotNull: true},
		{Name: "scopes", Type: "text", NotNull: true}, // space-separated resource:action
		{Name: "created_by", Type: "text"},
		{Name: "created_at", Type: "integer", NotNull: true}, // unix microseconds, like sessions
		{Name: "expires_at", Type: "integer"},
		{Name: "last_used_at", Type: "integer"},
		{Name: "revoked_at", Type: "integer"},
	}, Indexes: []Index{{Name: APIKeysTable + "_prefix_key", Columns: []string{"prefix"}, Unique: true}}}
}

// ActionTokensTable holds single-use tokens mailed for password resets and email checks.
const ActionTokensTable = "kiln_action_tokens"

func actionTokensTable() Table {
	return Table{Name: ActionTokensTable, PrimaryKey: []string{"token_hash"}, Columns: []Column{
		{Name: "token_hash", Type: "text", NotNull: true},
		{Name: "purpose", Type: "text", NotNull: true},
		{Name: "account_id", Type: "text", NotNull: true}, // the account it is for, or who invited
		{Name: "expires_at", Type: "integer", NotNull: true},
		{Name: "used_at", Type: "integer"},
		{Name: "email", Type: "text"}, // invitations: the invited address
		{Name: "role", Type: "text"},  // invitations: the role the new account gets
	}, Indexes: []Index{{Name: ActionTokensTable + "_expires_idx", Columns: []string{"expires_at"}}}}
}

// RevocationsTable lists revoked sessions and changed accounts in commit order (seq), so every
// instance can refuse revoked access tokens within a bound (internal/revocation).
const RevocationsTable = "kiln_revocations"

func revocationsTable() Table {
	return Table{Name: RevocationsTable, PrimaryKey: []string{"seq"}, Columns: []Column{
		{Name: "seq", Type: "integer", NotNull: true},
		{Name: "kind", Type: "text", NotNull: true},    // session, account or account_tokens
		{Name: "subject", Type: "text", NotNull: true}, // the session (family) id or the account id
		{Name: "at", Type: "integer", NotNull: true},   // unix microseconds
		{Name: "expires_at", Type: "integer", NotNull: true},
	}, Indexes: []Index{{Name: RevocationsTable + "_expires_idx", Columns: []string{"expires_at"}}}}
}

func joinTable(r *spec.Resource, f *spec.Field) Table {
	name, self, other := r.JoinTable(f)
	return Table{Name: name, PrimaryKey: []string{self, other},
		Columns: []Column{
			{Name: self, Type: "uuid", NotNull: true, References: r.Name, OnDelete: "CASCADE"},
			{Name: other, Type: "uuid", NotNull: true, References: f.Relation.To, OnDelete: "CASCADE"},
			{Name: "position", Type: "integer", NotNull: true, Default: ptr("0")},
		},
		Indexes: []Index{{Name: indexName(name, []string{other}, false), Columns: []string{other}}},
	}
}

func columnType(f *spec.Field) string {
	switch f.Type {
	case spec.TypeInteger:
		return "integer"
	case spec.TypeNumber:
		return "real"
	case spec.TypeDecimal:
		return fmt.Sprintf("decimal(%d,%d)", f.Precision, f.Scale)
	case spec.TypeBoolean:
		return "boolean"
	case spec.TypeDatetime:
		return "timestamp"
	case spec.TypeDate:
		return "date"
	case spec.TypeJSON, spec.TypeFile:
		return "json"
	case spec.TypeUUID, spec.TypeRelation:
		return "uuid"
	}
	return "text"
}

func indexName(table string, cols []string, unique bool) string {
	suffix := "_idx"
	if unique {
		suffix = "_key"
	}
	name := table
	for _, c := range cols {
		name += "_" + c
	}
	if len(name)+len(suffix) > 63 {
		name = fmt.Sprintf("%s_%x", name[:48], fnv32(name))
	}
	return name + suffix
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func ptr(s string) *string { return &s }

// decimalShape parses "decimal(p,s)".
func decimalShape(t string) (p, s int, ok bool) {
	_, err := fmt.Sscanf(t, "decimal(%d,%d)", &p, &s)
	return p, s, err == nil && p <= value.MaxPrecision
}

// Encode renders the schema as one line of JSON, the form kept in files and the database.
func (s Schema) Encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// DecodeSchema parses Encode's output.
func DecodeSchema(text string) (Schema, error) {
	var s Schema
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return Schema{}, fmt.Errorf("decode schema snapshot: %w", err)
	}
	return s, nil
}

func (s Schema) table(name string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}
