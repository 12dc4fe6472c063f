package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrUnknownApplied means the database has applied migrations this deployment has no file for:
// a newer deployment migrated it (and this one is a rollback), or an applied file was deleted.
var ErrUnknownApplied = errors.New("the database has migrations this deployment does not have")

// ErrEdited means an applied migration's up file was changed after it ran.
var ErrEdited = errors.New("applied migration file(s) changed since they were applied")

// State is where one migration stands between its file and the database.
type State string

// The states Status reports.
const (
	StatePending State = "pending"          // a file not applied yet
	StateApplied State = "applied"          // applied, its file unchanged
	StateEdited  State = "applied, edited"  // applied, its up file changed since
	StateNoFile  State = "applied, no file" // applied, no file in this deployment
)

// Entry is one migration in Status: a file, an applied row, or both.
type Entry struct {
	Version   int
	Name      string
	State     State
	AppliedAt string // empty when pending
	File      *File  // nil when StateNoFile
	// AppliedName is the name the database recorded with Version, when not Name: the file
	// numbered Version is another migration's (files renamed or renumbered after they ran).
	AppliedName string
}

// Label is the migration's NNNN_name.
func (e Entry) Label() string { return fmt.Sprintf("%04d_%s", e.Version, e.Name) }

// Status lists every migration, by file and by the database, in version order.
func (m *Migrator) Status(ctx context.Context) (out []Entry, err error) {
	err = m.locked(ctx, func() error {
		out, err = m.status(ctx)
		return err
	})
	return out, err
}

func (m *Migrator) status(ctx context.Context) ([]Entry, error) {
	files, err := m.Files()
	if err != nil {
		return nil, err
	}
	applied, err := m.applied(ctx)
	if err != nil {
		return nil, err
	}
	return entries(files, applied), nil
}

func entries(files []File, applied []Applied) []Entry {
	done := map[int]Applied{}
	for _, a := range applied {
		done[a.Version] = a
	}
	var out []Entry
	for i := range files {
		f := &files[i]
		e := Entry{Version: f.Version, Name: f.Name, State: StatePending, File: f}
		if a, ok := done[f.Version]; ok {
			e.State, e.AppliedAt = StateApplied, a.AppliedAt
			if a.Checksum != f.Checksum {
				e.State = StateEdited
			}
			if a.Name != f.Name {
				e.AppliedName = a.Name
			}
			delete(done, f.Version)
		}
		out = append(out, e)
	}
	for _, a := range done {
		out = append(out, Entry{Version: a.Version, Name: a.Name, State: StateNoFile, AppliedAt: a.AppliedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Problems is the error the entries' states make, nil when every applied migration has its
// file unchanged: the ones with no file first (ErrUnknownApplied), else the edited ones (ErrEdited).
func Problems(es []Entry, dir string) error {
	newest := len(es) - 1
	for newest >= 0 && es[newest].State == StatePending {
		newest--
	}
	return problems(es, dir, newest)
}

// problems is Problems where es[newest] is the newest applied migration (-1: none is among es),
// the one an edit of which kiln migrate down can undo.
func problems(es []Entry, dir string, newest int) error {
	var unknown, edited []string
	renamed, onlyNewest := false, true
	for i, e := range es {
		switch e.State {
		case StateNoFile:
			unknown = append(unknown, fmt.Sprintf("%s (applied %s)", e.Label(), e.AppliedAt))
		case StateEdited:
			label := filepath.Base(e.File.UpPath)
			if e.AppliedName != "" {
				label += fmt.Sprintf(" (applied as %04d_%s)", e.Version, e.AppliedName)
				renamed = true
			}
			edited, onlyNewest = append(edited, label), onlyNewest && i == newest && e.AppliedName == ""
		}
	}
	if len(unknown) > 0 {
		return unknownError(unknown, dir)
	}
	if len(edited) > 0 {
		return editedError(edited, renamed, onlyNewest)
	}
	return nil
}

func editedError(edited []string, renamed, onlyNewest bool) error {
	why := "its checksum differs from the one recorded"
	if len(edited) > 1 {
		why = "their checksums differ from the ones recorded"
	}
	var advice string
	switch {
	case renamed:
		advice = "files were renamed or renumbered after they were applied: give each its name and number as applied, and put a new migration after the newest (kiln migrate plan)"
	case onlyNewest:
		advice = "restore the file as it was applied; or, since it is the newest, apply the edit the documented way: `kiln migrate down` (its down file runs), then `kiln migrate up`"
	default:
		advice = "restore the files as they were applied, and put further changes in a new migration (kiln migrate plan)"
	}
	return fmt.Errorf("%w: %s (%s): %s", ErrEdited, strings.Join(edited, ", "), why, advice)
}

// verify refuses a database with applied migrations that have no file or whose file changed.
func (m *Migrator) verify(ctx context.Context) ([]Entry, error) {
	es, err := m.status(ctx)
	if err != nil {
		return nil, err
	}
	if err := Problems(es, m.dir); err != nil {
		return es, err
	}
	return es, Bases(es, m.st.Dialect())
}

func unknownError(labels []string, dir string) error {
	return fmt.Errorf("%w: %s; no file in %s: deploy the spec and migrations that made them, or migrate down with them (kiln migrate down from that deployment)",
		ErrUnknownApplied, strings.Join(labels, ", "), dir)
}

// unknownApplied is ErrUnknownApplied when an applied migration has no file in the directory.
// It lists the directory only, reading no file: it runs at every start of kiln serve.
func (m *Migrator) unknownApplied(applied []Applied) error {
	entries, err := os.ReadDir(m.dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read migrations: %w", err)
	}
	have := map[int]bool{}
	for _, e := range entries {
		if sub := fileRe.FindStringSubmatch(e.Name()); sub != nil {
			v, _ := strconv.Atoi(sub[1])
			have[v] = true
		}
	}
	var unknown []string
	for _, a := range applied {
		if !have[a.Version] {
			unknown = append(unknown, fmt.Sprintf("%04d_%s (applied %s)", a.Version, a.Name, a.AppliedAt))
		}
	}
	if len(unknown) > 0 {
		return unknownError(unknown, m.dir)
	}
	return nil
}
