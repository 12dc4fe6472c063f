package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A cron expression the parser takes but would run otherwise than written is a spec error at
// the cron value: @every below a second or of a fraction of one (@every 0s, -5s and 1ms ran
// every second: found by a helper), a step wider than its field or range (*/70 in minutes,
// 0-10/20 fire at minute 0 only), a day that never comes (0 0 30 2 * never fired: found by a
// hostile review).
func TestCronThatWouldRunOtherwiseIsRefused(t *testing.T) {
	t.Parallel()
	for cron, want := range map[string]string{
		"@every 0s":         "@every takes a whole number of seconds, at least 1s, not 0s",
		"@every -5s":        "@every takes a whole number of seconds, at least 1s, not -5s",
		"@every 1ms":        "@every takes a whole number of seconds, at least 1s, not 1ms",
		"@every 1500ms":     "@every takes a whole number of seconds, at least 1s, not 1500ms",
		"*/70 * * * *":      "step /70 is wider than its range (0–59): it fires at 0 only",
		"0-10/20 * * * *":   "step /20 is wider than its range (0–10): it fires at 0 only",
		"0 9-17/12 * * *":   "step /12 is wider than its range (9–17): it fires at 9 only",
		"0 0 30 2 *":        "names no time that exists (such as February 30th): it would never fire",
		"0 0 31 4,6,9,11 *": "names no time that exists",
		"0 */24 * * *":      "step /24 is wider than its range (0–23): it fires at 0 only",
		"*/61 * * * * *":    "step /61 is wider than its range (0–59): it fires at 0 only",
	} {
		src := "schedules:\n  - name: s\n    cron: \"" + cron + "\"\n    cleanup: [events]\nresources:\n  notes:\n    fields:\n      title: string\n"
		_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
		require.ErrorContains(t, err, "k.yaml:3:11: schedule s: cron \""+cron+"\": "+want, cron)
	}
	for _, cron := range []string{"@every 10s", "@every 1m30s", "*/59 * * * *", "*/15 9-17 * * 1-5", "@daily", "10-50/5 * * * *",
		"0 9-17/4 * * *", "5/20 * * * *", "0 0 29 2 *", "0 0 * JAN-MAR MON-FRI"} {
		src := "schedules:\n  - name: s\n    cron: \"" + cron + "\"\n    cleanup: [events]\nresources:\n  notes:\n    fields:\n      title: string\n"
		_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
		require.NoError(t, err, cron)
	}
}

// A trigger's or a schedule's queue, priority and timeout are refused at their values, not at
// the start of the entry (found by a helper).
func TestJobOptionErrorsAreAtTheirValues(t *testing.T) {
	t.Parallel()
	const src = `schedules:
  - name: s
    cron: "@daily"
    cleanup: [events]
    priority: 9
resources:
  notes:
    fields:
      title: string
    triggers:
      - name: t
        on: [create]
        handler: h
        queue: nope
        timeout: 2h
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, "k.yaml:5:15: schedule s: priority must be 1 (first) to 4")
	require.ErrorContains(t, err, "k.yaml:14:16: trigger t: queue \"nope\" is not declared under jobs.queues")
	require.ErrorContains(t, err, "k.yaml:15:18: trigger t: timeout 2h0m0s must be shorter than jobs.rescue_after")
}
