package store

import (
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/query"
)

// dialect is what differs between SQL databases when reading and writing records.
type dialect interface {
	name() string
	placeholder(n int) string
	// rebind turns the ? placeholders of a fixed internal statement into the dialect's own.
	rebind(sqlText string) string
	encode(k kind, scale int, v any) any
	scanTarget(k kind) any
	decode(k kind, scale int, target any) (any, error)
	interpret(err error) error
	match(col string, k query.MatchKind, ph string) string
	// linkedIDs selects, for each row of outer, the comma-joined target ids of a join table
	// in link order, so a record's N:M ids come with it in one query; live is an extra
	// condition on the join table's rows ("" or " AND …", see liveTarget).
	linkedIDs(join, self, other, outer, live string) string
	// distinct compares two values treating NULL as a value: true when they differ.
	distinct(a, b string) string
}

// quote quotes an identifier; identifiers come from the spec and are validated there,
// and quoting keeps SQL keywords usable as names in both dialects.
func quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }

func rebindDollar(sqlText string) string { return rebindDollarFrom(sqlText, 1) }

// rebindDollarFrom is rebindDollar numbering from first: text that follows a statement's own
// placeholders in one statement. It runs on every PostgreSQL statement: one allocation, the
// text unchanged when it has no placeholder.
func rebindDollarFrom(sqlText string, first int) string {
	marks := strings.Count(sqlText, "?")
	if marks == 0 {
		return sqlText
	}
	var b strings.Builder
	b.Grow(len(sqlText) + marks*(1+len(strconv.Itoa(first+marks-1))))
	for n := first; ; n++ {
		i := strings.IndexByte(sqlText, '?')
		if i < 0 {
			break
		}
		b.WriteString(sqlText[:i])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		sqlText = sqlText[i+1:]
	}
	b.WriteString(sqlText)
	return b.String()
}
