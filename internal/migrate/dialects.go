package migrate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// A project may keep migrations for both dialects: developed on SQLite, deployed on
// PostgreSQL. kiln migrate plan writes a change into the folder of the database's dialect and
// into every other dialect's folder that exists, each numbered after its own newest file, so
// that a deployment on the other dialect is not refused for a migration nobody wrote for it.

// dialects are the dialects Kiln writes migrations for.
var dialects = []string{"sqlite", "postgres"}

// DialectPlan is the plan for one dialect's folder.
type DialectPlan struct {
	Dialect string
	Dir     string
	Plan    Plan
}

// PlanAll diffs desired against the newest file in the folder of the database's dialect (always
// first in the result) and in each other dialect's folder that exists beside it.
func (m *Migrator) PlanAll(desired Schema) ([]DialectPlan, error) {
	own := m.st.Dialect()
	root := filepath.Dir(m.dir)
	out := make([]DialectPlan, 0, len(dialects))
	for _, d := range append([]string{own}, dialects...) {
		dir := filepath.Join(root, d)
		if len(out) > 0 && (d == own || !isDir(dir)) {
			continue
		}
		p, err := PlanFromDir(dir, d, desired)
		if err != nil {
			return nil, fmt.Errorf("%s migrations: %w", d, err)
		}
		out = append(out, DialectPlan{Dialect: d, Dir: dir, Plan: p})
	}
	return out, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// WriteAll saves each non-empty plan as the next migration of its folder, all or none: a
// destructive change in any of them without allowDestructive writes nothing, and a file that
// cannot be written takes the ones written before it away again.
func WriteAll(plans []DialectPlan, name string, allowDestructive bool) ([]File, error) {
	if !allowDestructive {
		for _, dp := range plans {
			if d := dp.Plan.Destructive(); len(d) > 0 {
				return nil, fmt.Errorf("%w: %s", ErrDestructive, describeChanges(d))
			}
		}
	}
	var written []File
	for _, dp := range plans {
		if dp.Plan.Empty() {
			continue
		}
		f, err := writeNext(dp.Dir, dp.Dialect, name, dp.Plan)
		if err != nil {
			for _, w := range written {
				err = errors.Join(err, os.Remove(w.UpPath), os.Remove(w.DownPath))
			}
			return nil, err
		}
		written = append(written, f)
	}
	return written, nil
}

// writeNext writes p as the version after the newest file in dir.
func writeNext(dir, dialect, name string, p Plan) (File, error) {
	files, err := readFiles(dir)
	if err != nil {
		return File{}, err
	}
	next := 1
	if len(files) > 0 {
		next = files[len(files)-1].Version + 1
	}
	return writeFile(dir, next, cleanName(name), dialect, p)
}
