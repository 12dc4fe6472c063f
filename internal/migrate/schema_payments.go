package migrate

// Payment tables (internal/integrations/payments). They exist when the spec has a
// payments: block.
const (
	PaymentsTable         = "kiln_payments"
	PaymentCustomersTable = "kiln_payment_customers"
)

func paymentTables() []Table {
	// One row per attempt to pay a record: each attempt has its own Checkout Session, and the
	// events of a session, its PaymentIntent and its refund apply to its row.
	payments := Table{Name: PaymentsTable, PrimaryKey: []string{"resource", "record_id", "attempt"}, Columns: []Column{
		{Name: "resource", Type: "text", NotNull: true},
		{Name: "record_id", Type: "text", NotNull: true},
		{Name: "state", Type: "text", NotNull: true},         // open, failed, expired, paid, mismatch, refunded
		{Name: "amount", Type: "integer", NotNull: true},     // minor units of currency
		{Name: "currency", Type: "text", NotNull: true},      // ISO 4217, lower case
		{Name: "attempt", Type: "integer", NotNull: true},    // 1, 2, … per record
		{Name: "account_id", Type: "text"},                   // who opened the attempt's session
		{Name: "session_id", Type: "text"},                   // the Checkout Session
		{Name: "session_url", Type: "text"},                  // where the customer pays
		{Name: "session_expires_at", Type: "integer"},        // unix seconds
		{Name: "intent_id", Type: "text"},                    // the PaymentIntent
		{Name: "refund_id", Type: "text"},                    // the refund the refund action made
		{Name: "paid_amount", Type: "integer"},               // what Stripe reported paid, minor units
		{Name: "problem", Type: "text"},                      // why an event did not move the record
		{Name: "moved", Type: "integer", NotNull: true},      // 1 when this attempt's payment moved the record to paid
		{Name: "created_at", Type: "integer", NotNull: true}, // unix microseconds
		{Name: "updated_at", Type: "integer", NotNull: true},
	}, Indexes: []Index{
		{Name: PaymentsTable + "_intent_idx", Columns: []string{"intent_id"}},
		{Name: PaymentsTable + "_session_idx", Columns: []string{"session_id"}},
	}}
	customers := Table{Name: PaymentCustomersTable, PrimaryKey: []string{"account_id"}, Columns: []Column{
		{Name: "account_id", Type: "text", NotNull: true},
		{Name: "customer_id", Type: "text"},                  // null while one process creates it
		{Name: "claimed_at", Type: "integer", NotNull: true}, // unix microseconds of the claim
		{Name: "created_at", Type: "integer", NotNull: true},
	}}
	return []Table{payments, customers}
}
