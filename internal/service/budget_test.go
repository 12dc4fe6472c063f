package service

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

const budgetSpec = `
name: budget
server: {query_timeout: 200ms}
resources:
  notes:
    fields:
      title: {type: string}
      rank: {type: integer}
    indexes: [{fields: [rank]}]
`

// newBudgetService runs the pipeline on a real, migrated SQLite store.
func newBudgetService(t *testing.T) *Service {
	t.Helper()
	s, err := spec.Parse("budget.yaml", []byte(budgetSpec), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{SQLitePath: filepath.Join(dir, "kiln.db")}, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	m := migrate.New(migrate.Config{Dir: filepath.Join(dir, "migrations")}, st)
	require.NoError(t, m.Dev(context.Background(), migrate.FromSpec(s), false, nil))
	svc, err := New(Config{Spec: s}, st)
	require.NoError(t, err)
	return svc
}

func parseQuery(t *testing.T, svc *Service, query string) (*ListParams, error) {
	t.Helper()
	q, err := url.ParseQuery(query)
	require.NoError(t, err)
	return svc.ParseList("notes", q)
}

// A filter may hold at most MaxUnindexed predicates that no index serves; indexed ones are free.
func TestFilterWithTooManyUnindexedPredicatesIsRefused(t *testing.T) {
	t.Parallel()
	svc := newBudgetService(t)
	clauses := func(n int, clause string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = clause
		}
		return "filter=" + url.QueryEscape(strings.Join(parts, " && "))
	}
	_, err := parseQuery(t, svc, clauses(MaxUnindexed, `!title.contains("x")`))
	require.NoError(t, err)
	_, err = parseQuery(t, svc, clauses(MaxUnindexed+1, `!title.contains("x")`))
	require.Equal(t, map[string]string{"filter": "too_costly"}, codesOf(err))
	_, err = parseQuery(t, svc, clauses(40, `rank > 1`))
	require.NoError(t, err, "comparisons of an indexed field use the index")
}

// Scanning lists share a few slots: while they are taken, another scanning list waits and
// then answers query_timeout within the deadline, and an indexed list is not held up at all.
func TestScanningListsWaitForASlotWithinTheDeadline(t *testing.T) {
	t.Parallel()
	svc := newBudgetService(t)
	ctx := context.Background()
	for i := 0; i < cap(svc.scans); i++ {
		release, err := svc.scans.acquire(ctx)
		require.NoError(t, err)
		defer release()
	}
	scan, err := parseQuery(t, svc, "filter="+url.QueryEscape(`title.contains("a")`))
	require.NoError(t, err)
	require.True(t, scan.scans)
	start := time.Now()
	_, err = svc.List(ctx, "notes", scan)
	require.Equal(t, CodeTimeout, AsError(err).Code)
	require.Less(t, time.Since(start), 10*time.Second, "the wait ends with the deadline")

	indexed, err := parseQuery(t, svc, "filter="+url.QueryEscape(`rank > 1`)+"&sort=rank")
	require.NoError(t, err)
	require.False(t, indexed.scans)
	_, err = svc.List(ctx, "notes", indexed)
	require.NoError(t, err)
	unsorted, err := parseQuery(t, svc, "sort=title")
	require.NoError(t, err)
	require.True(t, unsorted.scans, "sorting by a field no index leads scans")
}

func codesOf(err error) map[string]string {
	e := AsError(err)
	out := map[string]string{}
	for _, f := range e.Fields {
		out[f.Field] = f.Code
	}
	return out
}
