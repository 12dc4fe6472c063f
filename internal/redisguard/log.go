package redisguard

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// slogLogging writes go-redis's own log lines (pool and dial trouble) as structured lines.
type slogLogging struct{ log *slog.Logger }

func (l slogLogging) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

var routeOnce sync.Once

// RouteClientLogs sends go-redis's own logging through log instead of plain text on stderr.
// go-redis keeps its logger in a process-wide variable, so only the first call takes effect:
// call it where the process is wired (the first App built in a process wins).
func RouteClientLogs(log *slog.Logger) {
	routeOnce.Do(func() { redis.SetLogger(slogLogging{log: log}) })
}
