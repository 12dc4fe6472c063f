package scaleout_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/testdb"
)

const shopSpec = "examples/shop/kiln.yaml"

// database is a fresh PostgreSQL schema for one test: the URL kiln processes use (their
// sessions carry an application_name of their own, so a test can find and kill exactly them)
// and a connection to inspect it.
type database struct {
	url     string
	appName string
	conn    *pgx.Conn
}

func newDatabase(t *testing.T) *database {
	t.Helper()
	base := testdb.PostgresURL(t)
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	app := "kiln-" + strings.TrimPrefix(q.Get("search_path"), "kiln_test_")
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return &database{url: u.String(), appName: app, conn: conn}
}

// migrations lists the applied migration versions.
func (d *database) migrations(t *testing.T) []int {
	t.Helper()
	rows, err := d.conn.Query(context.Background(), "SELECT version FROM kiln_migrations ORDER BY version")
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return versions
}

var waitingRe = regexp.MustCompile(`another instance is migrating this database`)

// Three instances started at once on an empty database, ten times: one of them migrates, the
// others wait for the lock and find nothing left to do; nobody crashes and the database has
// one migration history (one dev migration file, applied once).
func TestServeInstancesStartingAtOnceMigrateOnce(t *testing.T) {
	t.Parallel()
	waited := 0
	for round := range 10 {
		t.Run(fmt.Sprintf("Round%d", round), func(t *testing.T) {
			db := newDatabase(t)
			migrations := t.TempDir()
			procs := make([]*proc, 3)
			for i := range procs {
				procs[i] = startKiln(t, fmt.Sprintf("serve-%d", i), map[string]string{"KILN_DATABASE_URL": db.url},
					"serve", "--dev", "--spec", shopSpec, "--migrations", migrations, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
			}
			for _, p := range procs {
				addr := p.waitFor(listeningRe, 90*time.Second)
				require.True(t, ready(context.Background(), "http://"+addr), "%s is ready", p.name)
			}
			for _, p := range procs {
				if waitingRe.MatchString(p.out.String()) {
					waited++
				}
				p.stop()
			}
			files, err := filepath.Glob(filepath.Join(migrations, "postgres", "*.up.sql"))
			require.NoError(t, err)
			require.Len(t, files, 1, "one dev migration file, not one per instance")
			require.Equal(t, []int{1}, db.migrations(t))
		})
	}
	t.Logf("%d of 30 processes waited for another's migration", waited)
	require.Positive(t, waited, "instances started at once wait for the lock (and say so)")
}

// `kiln migrate up` run three at a time: one applies the files, the others report nothing to do.
func TestMigrateUpRunAtOnceAppliesOnce(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(root, "examples", "shop", "migrations", "postgres")
	files, err := filepath.Glob(filepath.Join(dir, "*.up.sql"))
	require.NoError(t, err)
	for round := range 3 {
		t.Run(fmt.Sprintf("Round%d", round), func(t *testing.T) {
			db := newDatabase(t)
			procs := make([]*proc, 3)
			for i := range procs {
				procs[i] = startKiln(t, fmt.Sprintf("migrate-%d", i), map[string]string{"KILN_DATABASE_URL": db.url},
					"migrate", "up", "--spec", shopSpec, "--data-dir", t.TempDir())
			}
			applied := 0
			for _, p := range procs {
				require.NoError(t, p.wait(90*time.Second), "%s:\n%s", p.name, p.out.String())
				out := p.out.String()
				if strings.Contains(out, "applied 0001_") {
					applied++
				} else {
					require.Contains(t, out, "nothing to apply", p.name)
				}
			}
			require.Equal(t, 1, applied, "exactly one process applied the files")
			want := make([]int, len(files))
			for i := range want {
				want[i] = i + 1
			}
			require.Equal(t, want, db.migrations(t))
		})
	}
}
