package service

import (
	"context"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
)

// written collects the records one transaction wrote — its own record and those its nested
// children, effects, action steps and Go actions wrote — so that what follows the commit
// (committed: the caches, the after-hooks) hears of each, with the operation that wrote it.
// Only the request's own record was heard of: an action's after-hook got the action's record
// as an update whatever its steps did, and an effect's change to an account reached no cache.
type written struct{ list []writtenRec }

type writtenRec struct {
	r   *resource
	op  spec.Operation
	rec *store.Record
}

type writtenKey struct{}

// collect gives ctx a fresh collector of what the transactions run with it write.
func collect(ctx context.Context) (context.Context, *written) {
	w := &written{}
	return context.WithValue(ctx, writtenKey{}, w), w
}

// reset forgets what an attempt wrote: the transaction runs again (or did not commit).
func (c *written) reset() { c.list = c.list[:0] }

// resetWritten is reset on the collector of ctx, if it has one.
func resetWritten(ctx context.Context) {
	if c, ok := ctx.Value(writtenKey{}).(*written); ok {
		c.reset()
	}
}

// noteWritten records that the transaction of ctx wrote rec by op.
func noteWritten(ctx context.Context, r *resource, op spec.Operation, rec *store.Record) {
	if c, ok := ctx.Value(writtenKey{}).(*written); ok && rec != nil {
		c.list = append(c.list, writtenRec{r: r, op: op, rec: rec})
	}
}

// flush runs committed for every record the committed transaction wrote, in write order.
func (s *Service) flush(ctx context.Context, c *written) {
	for _, w := range c.list {
		s.committed(ctx, w.r, w.op, w.rec)
	}
	c.reset()
}
