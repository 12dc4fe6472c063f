package migrate

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

const schemaPrefix = "-- kiln-schema: "

// File is one versioned migration on disk: NNNN_name.up.sql and NNNN_name.down.sql.
type File struct {
	Version  int
	Name     string
	UpPath   string
	DownPath string
	Up       string
	Down     string
	Schema   Schema // the schema after applying Up
	// SchemaText is the kiln-schema line's text, Schema's source.
	SchemaText string
	Base       string // the digest of the schema it was planned against (kiln-base); "" in older files
	Checksum   string
}

var fileRe = regexp.MustCompile(`^(\d{4,})_([a-z0-9_]+)\.up\.sql$`)

// readFiles lists the migrations in dir in version order.
func readFiles(dir string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []File
	for _, e := range entries {
		m := fileRe.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		f, err := readFile(dir, m[1], m[2])
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	if err := duplicateVersion(out, dir); err != nil {
		return nil, err
	}
	return out, nil
}

// ErrDuplicateVersion means two migration files share a number, as a git merge of two
// branches that each planned a migration leaves them.
var ErrDuplicateVersion = errors.New("two migrations have the same version")

// duplicateVersion names the first two files of files (in version order) sharing a number.
func duplicateVersion(files []File, dir string) error {
	for i := 1; i < len(files); i++ {
		a, b := files[i-1], files[i]
		if a.Version != b.Version {
			continue
		}
		next := fmt.Sprintf("%04d_%s", files[len(files)-1].Version+1, b.Name)
		return fmt.Errorf("%w %d in %s: %s and %s (a merge of two branches that each planned one?): "+
			"renumber the one not applied to any database yet to follow the newest (e.g. %s.up.sql and %s.down.sql) "+
			"and re-plan it against the merged spec, or delete it (both its files) and run `kiln migrate plan` again",
			ErrDuplicateVersion, a.Version, dir, filepath.Base(a.UpPath), filepath.Base(b.UpPath), next, next)
	}
	return nil
}

func readFile(dir, version, name string) (File, error) {
	v, _ := strconv.Atoi(version)
	f := File{Version: v, Name: name,
		UpPath:   filepath.Join(dir, version+"_"+name+".up.sql"),
		DownPath: filepath.Join(dir, version+"_"+name+".down.sql")}
	up, err := os.ReadFile(f.UpPath)
	if err != nil {
		return File{}, fmt.Errorf("read migration: %w", err)
	}
	down, err := os.ReadFile(f.DownPath)
	if err != nil {
		return File{}, fmt.Errorf("migration %s has no down file: %w", filepath.Base(f.UpPath), err)
	}
	f.Up, f.Down = string(up), string(down)
	sum := sha256.Sum256(up)
	f.Checksum = hex.EncodeToString(sum[:])
	sc := bufio.NewScanner(strings.NewReader(f.Up))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	found := false
	for sc.Scan() && !(found && f.Base != "") {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, schemaPrefix):
			f.SchemaText = strings.TrimPrefix(line, schemaPrefix)
			if f.Schema, err = DecodeSchema(f.SchemaText); err != nil {
				return File{}, fmt.Errorf("%s: %w", f.UpPath, err)
			}
			found = true
		case strings.HasPrefix(line, basePrefix):
			f.Base = strings.TrimSpace(strings.TrimPrefix(line, basePrefix))
		case found:
			return f, nil // the header is over: a file planned before kiln-base lines
		}
	}
	if found {
		return f, nil
	}
	return File{}, fmt.Errorf("%s: no %q line (files are written by kiln migrate plan)", f.UpPath, strings.TrimSpace(schemaPrefix))
}

// writeFile writes the up and down files of plan as the next version in dir.
func writeFile(dir string, version int, name, dialect string, p Plan) (File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return File{}, fmt.Errorf("create migrations dir: %w", err)
	}
	prefix := fmt.Sprintf("%04d_%s", version, name)
	header := fmt.Sprintf("-- kiln migration %04d %s (%s), written by kiln migrate plan.\n", version, name, dialect)
	var up strings.Builder
	up.WriteString(header)
	up.WriteString(schemaPrefix + p.To.Encode() + "\n")
	if p.Base != "" {
		up.WriteString(basePrefix + p.Base + "\n")
	}
	for _, c := range p.Changes {
		up.WriteString("-- " + c.Description + "\n")
	}
	writeStatements(&up, p.Up)
	var down strings.Builder
	down.WriteString(header)
	writeStatements(&down, p.Down)
	upPath, downPath := filepath.Join(dir, prefix+".up.sql"), filepath.Join(dir, prefix+".down.sql")
	if err := os.WriteFile(upPath, []byte(up.String()), 0o644); err != nil {
		return File{}, fmt.Errorf("write migration: %w", err)
	}
	if err := os.WriteFile(downPath, []byte(down.String()), 0o644); err != nil {
		return File{}, fmt.Errorf("write migration: %w", err)
	}
	return readFile(dir, fmt.Sprintf("%04d", version), name)
}

func writeStatements(b *strings.Builder, stmts []string) {
	for _, s := range stmts {
		b.WriteString("\n" + s + ";\n")
	}
}

var nameRe = regexp.MustCompile(`[^a-z0-9_]+`)

// cleanName makes a migration name from free text.
func cleanName(s string) string {
	s = strings.Trim(nameRe.ReplaceAllString(strings.ToLower(s), "_"), "_")
	if s == "" {
		return "change"
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}
