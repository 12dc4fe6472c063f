package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// A migration file is planned against the schema the newest file before it leaves. Two
// branches that each plan a file from the same base, merged with one renumbered after the
// other, leave a file planned against a schema that is not its predecessor's: applied, it
// would also undo what the predecessor made — on SQLite, whose table rebuilds copy only the
// columns the file knew, silently dropping the predecessor's columns and their data (a new
// user's trial). plan therefore records the digest of the schema it planned against (the
// kiln-base line), and a file whose base is not its predecessor's is refused before anything
// is applied or planned. Files written before the line existed are not checked.

const basePrefix = "-- kiln-base: "

// ErrStaleBase is a migration file planned against a schema other than its predecessor's.
var ErrStaleBase = errors.New("a migration was planned on a schema other than the one the migration before it leaves")

// baseDigest names, in a kiln-base line, the schema a file was planned against by the text
// of the kiln-schema line it came from ("" before the first file): the text as written, so a
// later Kiln that encodes schemas otherwise reads the same digest.
func baseDigest(schemaText string) string {
	sum := sha256.Sum256([]byte(schemaText))
	return hex.EncodeToString(sum[:16])
}

// checkBases refuses files (in version order) whose kiln-base is not the digest of the schema
// the file before leaves (the empty schema before the first), naming the first such file and
// what it would undo. With check, only the files it reports are judged (the pending ones: an
// applied file's mismatch is a file changed since, which Problems names).
func checkBases(files []File, dialect string, check func(File) bool) error {
	var prev Schema
	prevText, prevLabel := "", "no migration"
	for _, f := range files {
		if f.Base != "" && f.Base != baseDigest(prevText) && (check == nil || check(f)) {
			return staleError(f, prev, prevLabel, dialect)
		}
		prev, prevText, prevLabel = f.Schema, f.SchemaText, fmt.Sprintf("%04d_%s", f.Version, f.Name)
	}
	return nil
}

// staleError says which file is stale, what it would undo of prev, and how to mend it.
func staleError(f File, prev Schema, prevLabel, dialect string) error {
	own := ownChanges(f.Up)
	var undo []string
	for _, c := range Diff(prev, f.Schema, dialect).Changes {
		if !own[c.Description] {
			undo = append(undo, c.Description)
		}
	}
	what := ""
	if len(undo) > 0 {
		what = "; applied, it would also undo: " + strings.Join(undo, "; ")
	}
	return fmt.Errorf("%w: %s was planned before %s (on another branch, say)%s. Delete its two files, in every dialect folder, and run kiln migrate plan on the merged spec: it plans the change again after %s",
		ErrStaleBase, filepath.Base(f.UpPath), prevLabel, what, prevLabel)
}

// ownChanges are the changes an up file describes (its "-- <change>" lines after the header).
func ownChanges(up string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(up, "\n") {
		switch {
		case strings.HasPrefix(line, schemaPrefix), strings.HasPrefix(line, basePrefix), strings.HasPrefix(line, "-- kiln migration "):
		case strings.HasPrefix(line, "-- "):
			out[strings.TrimPrefix(line, "-- ")] = true
		}
	}
	return out
}

// Bases is checkBases on the files of es that are still pending: a pending file planned on
// another branch is refused before anything is applied.
func Bases(es []Entry, dialect string) error {
	var files []File
	pending := map[int]bool{}
	for _, e := range es {
		if e.File != nil {
			files = append(files, *e.File)
			pending[e.Version] = e.State == StatePending
		}
	}
	return checkBases(files, dialect, func(f File) bool { return pending[f.Version] })
}
