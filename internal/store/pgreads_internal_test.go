package store

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/testdb"
)

// A read that fails in a group is not answered by the group, nor are the reads after it (the
// server skipped them): they run again by themselves. The reads before it have their answers,
// and the connection serves the next read.
func TestAFailedReadInAGroupSendsTheRestAgain(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testdb.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	got := make([]int64, 4)
	member := func(i int, q string) *groupMember {
		return &groupMember{query: q, args: []any{int64(i)}, done: make(chan struct{}), scan: func(rows pgx.Rows) error {
			for rows.Next() {
				if err := rows.Scan(&got[i]); err != nil {
					return err
				}
			}
			return rows.Err()
		}}
	}
	ms := []*groupMember{member(0, "SELECT $1::int8 + 10"), member(1, "SELECT $1::int8 + 10"),
		member(2, "SELECT 1 / ($1::int8 - 2)"), member(3, "SELECT $1::int8 + 10")}
	var counted int
	g := newPGGroups(1, func() { counted++ })
	g.sendReads(pool, ms)
	require.Equal(t, []int64{10, 11, 0, 0}, got)
	require.Equal(t, []bool{false, false, true, true}, []bool{ms[0].again, ms[1].again, ms[2].again, ms[3].again})
	require.Equal(t, 2, counted)
	for _, m := range ms[1:] {
		<-m.done // every other member is told
	}
	var n int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT 5").Scan(&n))
	require.Equal(t, int64(5), n)
}
