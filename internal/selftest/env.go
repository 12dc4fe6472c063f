package selftest

import (
	"context"
	"net/http"
)

// Env is the backend under test: where to send requests, how to get credentials for a role,
// and how to look at the database (through the store, never raw SQL from a test file).
type Env interface {
	URL() string
	DefaultRole() string
	Token(ctx context.Context, role string) (string, error)
	ExpiredToken(ctx context.Context, role string) (string, error)
	APIKey(ctx context.Context, role string) (string, error)
	// Resource resolves a name as written in a check ("Product", "order items") or a path.
	Resource(name string) (string, bool)
	ResourceOfPath(path string) (string, bool)
	// Count counts records of resource whose fields equal where (values as written in tests).
	Count(ctx context.Context, resource string, where map[string]any) (int64, error)
	// Stored returns the stored value of a field of one record, as text ("29.99").
	Stored(ctx context.Context, resource, id, field string) (string, error)
	// Rows are the ids a list request (path and query) should return across all its pages,
	// in order: the role's access rule ("" is anonymous), the filter and the sort evaluated in
	// memory over every stored record, independently of the SQL the API runs.
	Rows(ctx context.Context, role, pathAndQuery string) ([]string, error)
	// Shape lists the fields a record of resource shows when no ?fields= narrows it, and how
	// each relation is shown (hidden fields are never shown; inverse ones only when expanded).
	Shape(resource string) ([]FieldShape, error)
	// Related lists, for each record id, the target ids a relation field holds, sorted, as
	// the database has them, keeping the targets the role ("" is anonymous) may view: what
	// ?expand= must show.
	Related(ctx context.Context, role, resource, field string, ids []string) (map[string][]string, error)
	// RandomValue is a random valid value of a field ("people.nickname") as a decoded JSON
	// value, for unique fields {unique} cannot make unique: text whose pattern leaves no room
	// for it, numbers, dates.
	RandomValue(ctx context.Context, field string) (any, error)
	// CheckSchema validates a response against the API's OpenAPI document; nil when it conforms.
	CheckSchema(req *http.Request, status int, header http.Header, body []byte) error
}

// Relation is how a field links records: not at all, to one, to many, or inverse (1:N).
type Relation int

// Relation kinds, as Shape reports them.
const (
	NoRelation Relation = iota
	ToOne
	ToMany
	Inverse
)

// FieldShape is one field as records show it.
type FieldShape struct {
	Name     string
	Relation Relation
}
