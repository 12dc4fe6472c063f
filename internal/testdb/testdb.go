// Package testdb gives tests real databases: a fresh PostgreSQL schema per test (dropped on
// cleanup) and a clear skip when the server is unreachable, or a failure when
// KILN_REQUIRE_SERVICES=1 says the service must be there (CI).
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is used when KILN_TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Dialects lists the dialects every store-backed suite runs on.
var Dialects = []string{"sqlite", "postgres"}

// Required reports whether missing services must fail the run.
func Required() bool {
	b, _ := strconv.ParseBool(os.Getenv("KILN_REQUIRE_SERVICES"))
	return b
}

// PostgresURL creates a fresh schema for t and returns a URL whose search_path points at it.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("KILN_TEST_POSTGRES_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
		return ""
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "kiln_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = conn.Close(ctx)
		t.Fatalf("create test schema: %v", err)
	}
	_ = conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("KILN_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (KILN_REQUIRE_SERVICES=1) but unreachable: %v", service, err)
	}
	t.Skipf("SKIPPED: %s unreachable (%v); set KILN_REQUIRE_SERVICES=1 to make this a failure", service, err)
}

// EachDialectEnv runs f as a subtest per dialect with KILN_DATABASE_URL naming its database:
// empty for SQLite, a fresh PostgreSQL schema otherwise (skipped or failed as PostgresURL is).
func EachDialectEnv(t *testing.T, f func(t *testing.T)) {
	EachDialect(t, func(t *testing.T, url string) {
		t.Setenv("KILN_DATABASE_URL", url)
		f(t)
	})
}

// EachDialect runs f as a subtest per dialect, one after the other, with the database URL
// given rather than set in the environment (so that a parallel test may use it): empty for
// SQLite, a fresh PostgreSQL schema otherwise.
func EachDialect(t *testing.T, f func(t *testing.T, url string)) {
	for _, dialect := range Dialects {
		t.Run(dialect, func(t *testing.T) {
			url := ""
			if dialect == "postgres" {
				url = PostgresURL(t)
			}
			f(t, url)
		})
	}
}
