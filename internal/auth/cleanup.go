package auth

import (
	"context"
	"time"

	"github.com/kiln-dev/kiln/internal/migrate"
	"github.com/kiln-dev/kiln/internal/store"
)

// cleanupBatch bounds one delete, so the writer is never held for long.
const cleanupBatch = 1000

// DeleteExpiredSessions deletes refresh-token sessions that expired before now: an expired
// refresh token is refused whether its row is there or not. It returns how many went.
func DeleteExpiredSessions(ctx context.Context, st *store.Store, now time.Time) (int64, error) {
	return deleteExpired(ctx, st, migrate.SessionsTable, now)
}

// DeleteExpiredActionTokens deletes mailed tokens (email verification, password reset,
// invitations) that expired before now, used or not.
func DeleteExpiredActionTokens(ctx context.Context, st *store.Store, now time.Time) (int64, error) {
	return deleteExpired(ctx, st, migrate.ActionTokensTable, now)
}

func deleteExpired(ctx context.Context, st *store.Store, table string, now time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := st.InTx(ctx, func(tx *store.Exec) error {
			var err error
			n, err = tx.ExecRawCount(ctx, "DELETE FROM "+table+" WHERE token_hash IN (SELECT token_hash FROM "+table+
				" WHERE expires_at < ? LIMIT ?)", micros(now), cleanupBatch)
			return err
		})
		total += n
		if err != nil || n < cleanupBatch {
			return total, err
		}
	}
}
