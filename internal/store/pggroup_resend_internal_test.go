package store

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/testdb"
)

// A member the server fails (a unique clash) aborts its group's transaction: that member runs
// again by itself, and the others are sent again together, not each by itself; a group that
// fails more often than groupResends allows leaves its members to run by themselves.
func TestAGroupIsSentAgainWithoutTheMemberTheServerFailed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testdb.PostgresURL(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE g (v text UNIQUE)")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "INSERT INTO g VALUES ('taken')")
	require.NoError(t, err)

	grouped := 0
	g := newPGGroups(groupsAtOnce, func() { grouped++ })
	values := []string{"a", "taken", "b", "c", "taken", "d"}
	ms := groupOf(values...)
	g.send(conn, ms)
	for i, m := range ms {
		require.NoError(t, m.err, "member %d", i)
		require.Equal(t, values[i] == "taken", m.again, "member %d runs again by itself exactly when it clashed", i)
		require.Equal(t, values[i] != "taken", m.wrote, "member %d", i)
	}
	require.Equal(t, 4, grouped, "the four that did not clash committed in a group")
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM g WHERE v IN ('a','b','c','d')").Scan(&n))
	require.Equal(t, 4, n)

	clashes := make([]string, groupResends+3)
	for i := range clashes {
		clashes[i] = "taken"
	}
	ms = groupOf(append(clashes, "e")...)
	g.send(conn, ms)
	for i, m := range ms {
		require.True(t, m.again, "member %d: past groupResends every member runs by itself", i)
		require.False(t, m.wrote, "member %d", i)
	}
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM g WHERE v = 'e'").Scan(&n))
	require.Zero(t, n, "nothing of a group that failed committed")
	require.Equal(t, byte('I'), conn.PgConn().TxStatus(), "the connection is left outside a transaction")
}

// A member that failed waiting for a lock (past groupLockTimeout) is not left out and the
// group sent again: the others may wait for the same row, and each would wait its turn in a
// send of its own. Every member runs by itself at once.
func TestAGroupWhoseMemberWaitedForALockRunsAlone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := testdb.PostgresURL(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE g (v text UNIQUE)")
	require.NoError(t, err)
	holder, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer holder.Close(ctx)
	hold, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = hold.Exec(ctx, "INSERT INTO g VALUES ('held')") // not committed: an insert of 'held' waits
	require.NoError(t, err)

	grouped := 0
	g := newPGGroups(groupsAtOnce, func() { grouped++ })
	ms := groupOf("a", "held", "b", "held", "c")
	g.send(conn, ms)
	for i, m := range ms {
		require.True(t, m.again, "member %d runs by itself", i)
		require.False(t, m.wrote, "member %d", i)
	}
	require.Zero(t, grouped)
	require.NoError(t, hold.Rollback(ctx))
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM g").Scan(&n))
	require.Zero(t, n, "nothing of the group committed")
}

// groupOf is a group of inserts of values into g, each returning its value.
func groupOf(values ...string) []*groupMember {
	ms := make([]*groupMember, len(values))
	for i, v := range values {
		var got string
		ms[i] = &groupMember{query: "INSERT INTO g VALUES ($1) RETURNING v", args: []any{v}, dest: []any{&got},
			lead: make(chan *groupTurn, 1), done: make(chan struct{})}
	}
	return ms
}
