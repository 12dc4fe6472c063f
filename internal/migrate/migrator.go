package migrate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/store"
)

// Config wires a Migrator.
type Config struct {
	// Dir holds the migrations of every dialect, in a folder per dialect.
	Dir string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Waiting, when set, is told while another instance holds the migration lock.
	Waiting func(msg string)
}

// Migrator plans, writes and applies migrations for one store.
//
// Every method that reads or changes the database runs under the cluster-wide migration lock
// (store.Lock): instances starting at once on one database take turns, and the ones that come
// second find nothing left to do.
type Migrator struct {
	st      *store.Store
	dir     string
	now     func() time.Time
	waiting func(msg string)
}

// Applied is one row of the migrations table.
type Applied struct {
	Version  int
	Name     string
	Checksum string
	// Schema is the schema after the migration, decoded for the newest applied one only: each
	// row holds the whole schema, and every start reads the table (decoding a dozen of them
	// was a few milliseconds of a cold start), while only the newest is ever compared.
	Schema    Schema
	AppliedAt string
}

// ErrDestructive means a plan drops or narrows something and was not allowed to.
var ErrDestructive = errors.New("plan has destructive changes")

// New makes a Migrator; migrations for st's dialect live in cfg.Dir/<dialect>.
func New(cfg Config, st *store.Store) *Migrator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Migrator{st: st, dir: filepath.Join(cfg.Dir, st.Dialect()), now: cfg.Now, waiting: cfg.Waiting}
}

// lockName is the advisory lock every migration step holds.
const lockName = "kiln_migrate"

// locked runs fn holding the migration lock.
func (m *Migrator) locked(ctx context.Context, fn func() error) error {
	unlock, err := m.st.Lock(ctx, lockName, m.tellWaiting)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

func (m *Migrator) tellWaiting(waited time.Duration) {
	if m.waiting == nil {
		return
	}
	if waited == 0 {
		m.waiting("another instance is migrating this database: waiting for it to finish")
		return
	}
	m.waiting(fmt.Sprintf("still waiting for the other instance's migration (%s)", waited.Round(time.Second)))
}

// Dir is where this dialect's files live.
func (m *Migrator) Dir() string { return m.dir }

// Files lists the migration files.
func (m *Migrator) Files() ([]File, error) { return readFiles(m.dir) }

const createTable = `CREATE TABLE IF NOT EXISTS kiln_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  schema TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`

// Applied lists the applied migrations in order.
func (m *Migrator) Applied(ctx context.Context) (out []Applied, err error) {
	err = m.locked(ctx, func() error {
		out, err = m.applied(ctx)
		return err
	})
	return out, err
}

func (m *Migrator) applied(ctx context.Context) ([]Applied, error) {
	var out []Applied
	err := m.st.InTx(ctx, func(tx *store.Exec) error {
		if err := tx.ExecDDL(ctx, createTable); err != nil {
			return err
		}
		rows, err := tx.QueryRaw(ctx, "SELECT version, name, checksum, schema, applied_at FROM kiln_migrations ORDER BY version")
		if err != nil {
			return err
		}
		defer rows.Close()
		var schema string
		for rows.Next() {
			var a Applied
			if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &schema, &a.AppliedAt); err != nil {
				return err
			}
			out = append(out, a)
		}
		if err := rows.Err(); err != nil || len(out) == 0 {
			return err
		}
		out[len(out)-1].Schema, err = DecodeSchema(schema)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return out, nil
}

// Plan diffs desired against the schema of the newest migration file.
func (m *Migrator) Plan(desired Schema) (Plan, error) {
	return PlanFromDir(m.dir, m.st.Dialect(), desired)
}

// PlanFromDir diffs desired against the newest migration file in dir, without a database.
func PlanFromDir(dir, dialect string, desired Schema) (Plan, error) {
	files, err := readFiles(dir)
	if err != nil {
		return Plan{}, err
	}
	if err := checkBases(files, dialect, nil); err != nil {
		return Plan{}, err
	}
	var current Schema
	text := ""
	if len(files) > 0 {
		current, text = files[len(files)-1].Schema, files[len(files)-1].SchemaText
	}
	p := Diff(current, desired, dialect)
	p.Base = baseDigest(text)
	return p, nil
}

// Write saves plan as the next migration file. Destructive plans need allowDestructive.
func (m *Migrator) Write(p Plan, name string, allowDestructive bool) (File, error) {
	if d := p.Destructive(); len(d) > 0 && !allowDestructive {
		return File{}, fmt.Errorf("%w: %s", ErrDestructive, describeChanges(d)) // the caller says how to allow it
	}
	return writeNext(m.dir, m.st.Dialect(), name, p)
}

func describeChanges(cs []Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Description
	}
	return strings.Join(parts, "; ")
}

// Pending lists the files not yet applied, checking applied ones were not edited since.
func (m *Migrator) Pending(ctx context.Context) (out []File, err error) {
	err = m.locked(ctx, func() error {
		out, err = m.pending(ctx)
		return err
	})
	return out, err
}

func (m *Migrator) pending(ctx context.Context) ([]File, error) {
	es, err := m.verify(ctx)
	if err != nil {
		return nil, err
	}
	var pending []File
	for _, e := range es {
		if e.State == StatePending {
			pending = append(pending, *e.File)
		}
	}
	return pending, nil
}

// Up applies every pending file, each in its own transaction; progress reports each one.
func (m *Migrator) Up(ctx context.Context, progress func(f File)) (done []File, err error) {
	err = m.locked(ctx, func() error {
		done, err = m.up(ctx, progress)
		return err
	})
	return done, err
}

func (m *Migrator) up(ctx context.Context, progress func(f File)) ([]File, error) {
	pending, err := m.pending(ctx)
	if err != nil {
		return nil, err
	}
	for i, f := range pending {
		if err := m.apply(ctx, f); err != nil {
			return pending[:i], err
		}
		if progress != nil {
			progress(f)
		}
	}
	return pending, nil
}

func (m *Migrator) apply(ctx context.Context, f File) error {
	err := m.st.InSchemaTx(ctx, func(tx *store.Exec) error {
		if err := tx.ExecDDL(ctx, f.Up); err != nil {
			return err
		}
		return tx.ExecRaw(ctx, "INSERT INTO kiln_migrations (version, name, checksum, schema, applied_at) VALUES (?, ?, ?, ?, ?)",
			f.Version, f.Name, f.Checksum, f.Schema.Encode(), m.now().UTC().Format(time.RFC3339))
	})
	if err != nil {
		return fmt.Errorf("apply %s: %w", filepath.Base(f.UpPath), m.explainApply(ctx, f, err))
	}
	return nil
}

// Down reverts the newest applied migration.
func (m *Migrator) Down(ctx context.Context) (f *File, err error) {
	err = m.locked(ctx, func() error {
		f, err = m.down(ctx)
		return err
	})
	return f, err
}

func (m *Migrator) down(ctx context.Context) (*File, error) {
	es, err := m.status(ctx)
	if err != nil {
		return nil, err
	}
	last := len(es) - 1
	for last >= 0 && es[last].State == StatePending {
		last--
	}
	if last < 0 {
		return nil, errors.New("no migration is applied")
	}
	if es[last].State == StateNoFile {
		return nil, fmt.Errorf("applied migration %s has no file in %s (%w): revert it with the deployment that has its files",
			es[last].Label(), m.dir, ErrUnknownApplied)
	}
	// The newest one's up file may have been edited (revert, then apply the edit, is how one
	// fixes it): its down file is what runs. An older one edited or gone means the files no
	// longer describe this database, and reverting on top of them would mislead.
	if err := problems(es[:last], m.dir, -1); err != nil {
		return nil, fmt.Errorf("revert %s: %w", es[last].Label(), err)
	}
	f := *es[last].File
	err = m.st.InSchemaTx(ctx, func(tx *store.Exec) error {
		if err := tx.ExecDDL(ctx, f.Down); err != nil {
			return err
		}
		return tx.ExecRaw(ctx, "DELETE FROM kiln_migrations WHERE version = ?", f.Version)
	})
	if err != nil {
		return nil, fmt.Errorf("revert %s: %w", filepath.Base(f.DownPath), err)
	}
	return &f, nil
}

// Check compares the applied schema with desired; an empty plan means the database is current.
func (m *Migrator) Check(ctx context.Context, desired Schema) (p Plan, err error) {
	err = m.locked(ctx, func() error {
		p, err = m.check(ctx, desired)
		return err
	})
	return p, err
}

func (m *Migrator) check(ctx context.Context, desired Schema) (Plan, error) {
	applied, err := m.applied(ctx)
	if err != nil {
		return Plan{}, err
	}
	var current Schema
	if len(applied) > 0 {
		current = applied[len(applied)-1].Schema
	}
	p := Diff(current, desired, m.st.Dialect())
	if p.Empty() {
		return p, nil // the database is the spec's, whatever files this deployment ships
	}
	// An applied migration with no file is a database migrated by a newer deployment: its
	// schema is not this spec's, and no plan or dev migration of this one can bring it back.
	if err := m.unknownApplied(applied); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// Dev brings the database to desired the way dev mode does: apply pending files, then plan
// what the spec adds, write it as a file and apply it. It holds the migration lock throughout,
// so instances started at once write and apply one file, not one each.
func (m *Migrator) Dev(ctx context.Context, desired Schema, allowDestructive bool, progress func(File)) error {
	return m.locked(ctx, func() error { return m.dev(ctx, desired, allowDestructive, progress) })
}

func (m *Migrator) dev(ctx context.Context, desired Schema, allowDestructive bool, progress func(File)) error {
	if _, err := m.up(ctx, progress); err != nil {
		return err
	}
	if p, err := m.check(ctx, desired); err != nil || p.Empty() {
		return err // another instance, with migrations of its own, already brought it here
	}
	p, err := m.Plan(desired)
	if err != nil || p.Empty() {
		return err
	}
	_, err = m.Write(p, "dev_"+m.now().UTC().Format("20060102_150405"), allowDestructive)
	if errors.Is(err, ErrDestructive) {
		// Dev mode never applies a destructive change on its own: the user writes it on purpose.
		return fmt.Errorf("%w; dev mode does not apply them: review and write them with `kiln migrate plan --allow-destructive`, apply with `kiln migrate up`, then serve again", err)
	}
	if err != nil {
		return err
	}
	_, err = m.up(ctx, progress)
	return err
}

// Dialect is the database's dialect: the folder the migrator reads.
func (m *Migrator) Dialect() string { return m.st.Dialect() }
