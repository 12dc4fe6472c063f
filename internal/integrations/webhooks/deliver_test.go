package webhooks

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

func TestScheduleIsStandardWebhooks(t *testing.T) {
	t.Parallel()
	w := &Webhooks{cfg: Config{Spec: &spec.Spec{}}.withDefaults()}
	require.Equal(t, 8, w.MaxAttempts(), "immediately, then seven retries")
	var waits []time.Duration
	for n := 1; n < w.MaxAttempts(); n++ {
		waits = append(waits, w.Backoff(n))
	}
	require.Equal(t, []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}, waits)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{in: "", want: 0},
		{in: "120", want: 2 * time.Minute},
		{in: "0", want: 0},
		{in: "-5", want: 0},
		{in: "soon", want: 0},
		{in: "999999999", want: maxRetryAfter},
		{in: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second},
		{in: now.Add(-time.Hour).Format(http.TimeFormat), want: 0},
	} {
		require.Equal(t, tc.want, parseRetryAfter(tc.in, now), tc.in)
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		patterns     []string
		resource, op string
		want         bool
	}{
		{patterns: []string{"orders.update"}, resource: "orders", op: "update", want: true},
		{patterns: []string{"orders.update"}, resource: "orders", op: "create"},
		{patterns: []string{"orders.*"}, resource: "orders", op: "cancel", want: true},
		{patterns: []string{"orders.*"}, resource: "order_items", op: "create"},
		{patterns: []string{"products.create", "*"}, resource: "tags", op: "delete", want: true},
	} {
		require.Equal(t, tc.want, matches(tc.patterns, tc.resource, tc.op), "%v %s.%s", tc.patterns, tc.resource, tc.op)
	}
}
