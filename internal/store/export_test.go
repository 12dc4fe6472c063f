package store

import "github.com/kiln-dev/kiln/internal/query"

// ListSQL renders the statement List runs, for tests that look at its plan.
func (e *Exec) ListSQL(resource string, q query.List) (string, []any, error) {
	t, err := e.table(resource)
	if err != nil {
		return "", nil, err
	}
	b, err := e.renderList(t, q)
	if err != nil {
		return "", nil, err
	}
	return b.sb.String(), b.args, nil
}

// NotifyGap is the least time between two notifications of a Notifier.
const NotifyGap = notifyGap
