package kiln

import (
	"context"
	"time"
)

// SetWebhookSchedule replaces the webhook retry schedule, for tests only: no spec key or
// exported option can shorten production's.
func SetWebhookSchedule(c *Config, s []time.Duration) { c.webhookSchedule = s }

// SetPaymentsClock sets the clock payments judge a Checkout Session's expiry by, for tests
// against stripe-mock (whose sessions expired in 2009).
func SetPaymentsClock(c *Config, now func() time.Time) { c.paymentsNow = now }

// SweepWebhooks runs the webhooks sweep with a cut-off the test chooses.
func SweepWebhooks(a *App, before time.Time) error {
	return a.webhooks.Sweep(context.Background(), before)
}

// WebhookCacheHits is how many writes matched their webhook subscriptions without reading them.
func WebhookCacheHits(a *App) int64 { return a.webhooks.CacheHits() }

// ServedRoutes lists the ServeMux patterns of every route a's server answers.
func ServedRoutes(a *App) []string { return a.server.Served() }
