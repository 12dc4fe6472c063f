package kiln

import "time"

// SetWebhookSchedule replaces the webhook retry schedule, for tests only: no spec key or
// exported option can shorten production's.
func SetWebhookSchedule(c *Config, s []time.Duration) { c.webhookSchedule = s }
