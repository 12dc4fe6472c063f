package migrate

// Webhook tables (internal/integrations/webhooks). They exist when the spec has a
// webhooks: key (the subscriptions, their messages and the delivery log) or an
// incoming_webhooks: key (the received event ids).
const (
	WebhooksTable        = "kiln_webhooks"
	WebhookMessagesTable = "kiln_webhook_messages"
	WebhookAttemptsTable = "kiln_webhook_attempts"
	WebhookInboxTable    = "kiln_webhook_inbox"
)

func webhookTables() []Table {
	subs := Table{Name: WebhooksTable, PrimaryKey: []string{"id"}, Columns: []Column{
		{Name: "id", Type: "serial", NotNull: true},
		{Name: "name", Type: "text", NotNull: true},
		{Name: "source", Type: "text", NotNull: true}, // spec or api
		{Name: "url", Type: "text", NotNull: true},
		{Name: "events", Type: "text", NotNull: true}, // JSON list of patterns
		{Name: "condition", Type: "text"},             // CEL over old and new
		{Name: "event_type", Type: "text"},            // the type deliveries carry
		{Name: "secret_env", Type: "text"},            // spec subscriptions: the variable's name
		{Name: "secret", Type: "text"},                // api subscriptions: the whsec_ secret
		{Name: "previous_secret", Type: "text"},       // still signs until previous_until
		{Name: "previous_until", Type: "integer"},     // unix microseconds
		{Name: "disabled_at", Type: "integer"},        // unix microseconds; null: enabled
		{Name: "disabled_reason", Type: "text"},
		{Name: "created_at", Type: "integer", NotNull: true},
		{Name: "updated_at", Type: "integer", NotNull: true},
	}, Indexes: []Index{{Name: WebhooksTable + "_name_idx", Columns: []string{"name"}, Unique: true}}}
	msgs := Table{Name: WebhookMessagesTable, PrimaryKey: []string{"id"}, Columns: []Column{
		{Name: "id", Type: "text", NotNull: true}, // the webhook-id header: msg_<event>_<subscription>_<random>
		{Name: "subscription_id", Type: "integer", NotNull: true},
		{Name: "event_id", Type: "integer", NotNull: true},
		{Name: "event_type", Type: "text", NotNull: true},
		{Name: "body", Type: "text", NotNull: true},  // the JSON sent, the same on every attempt
		{Name: "state", Type: "text", NotNull: true}, // pending, retrying, delivered, failed
		{Name: "attempts", Type: "integer", NotNull: true},
		{Name: "created_at", Type: "integer", NotNull: true},
		{Name: "updated_at", Type: "integer", NotNull: true},
	}, Indexes: []Index{{Name: WebhookMessagesTable + "_sub_idx", Columns: []string{"subscription_id", "state", "created_at"}}}}
	attempts := Table{Name: WebhookAttemptsTable, PrimaryKey: []string{"id"}, Columns: []Column{
		{Name: "id", Type: "serial", NotNull: true},
		{Name: "message_id", Type: "text", NotNull: true},
		{Name: "subscription_id", Type: "integer", NotNull: true},
		{Name: "event_id", Type: "integer", NotNull: true},
		{Name: "attempt", Type: "integer", NotNull: true},
		{Name: "status_code", Type: "integer"}, // null when no answer came
		{Name: "latency_ms", Type: "integer", NotNull: true},
		{Name: "response", Type: "text"}, // the answer's first bytes
		{Name: "error", Type: "text"},
		{Name: "created_at", Type: "integer", NotNull: true},
	}, Indexes: []Index{{Name: WebhookAttemptsTable + "_sub_idx", Columns: []string{"subscription_id", "id"}}}}
	return []Table{subs, msgs, attempts}
}

func webhookInboxTable() Table {
	return Table{Name: WebhookInboxTable, PrimaryKey: []string{"endpoint", "event_id"}, Columns: []Column{
		{Name: "endpoint", Type: "text", NotNull: true},
		{Name: "event_id", Type: "text", NotNull: true},
		{Name: "job_id", Type: "integer"},
		{Name: "created_at", Type: "integer", NotNull: true},
	}}
}
