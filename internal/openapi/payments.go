package openapi

import (
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// paymentPaths documents POST {base}/{resource}/{id}/pay and …/refund of a payable resource.
// Secrets (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET) never appear here.
func paymentPaths(s *spec.Spec, r *spec.Resource, n string, paths obj) {
	problem := func(desc string) obj {
		return obj{"description": desc, "content": obj{"application/problem+json": obj{"schema": ref("Problem")}}}
	}
	unavailable := problem("payments_not_configured (no key, or Stripe refused it), or payment_provider_unavailable (Stripe did not answer in time, failed or limited the rate: send the same request again)")
	id := obj{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string", "format": "uuid"}}
	pay := obj{"operationId": "pay" + n, "tags": []string{r.Name}, "summary": "Pay a record of " + r.Name + " with Stripe Checkout",
		"description": "Opens a Stripe Checkout Session for the record's " + r.Payable.Amount + " (whoever may view the record, while it is " +
			"one of " + strings.Join(r.Payable.PayFrom, ", ") + "); the same open session is handed out again. Send the customer to url.",
		"parameters": []obj{id},
		"responses": obj{"200": jsonResponse("The Checkout Session", obj{"type": "object", "required": []string{"url", "session_id", "expires_at", "amount", "currency"},
			"properties": obj{"url": obj{"type": "string", "format": "uri"}, "session_id": obj{"type": "string"},
				"expires_at": obj{"type": "string", "format": "date-time"}, "amount": obj{"type": "string"}, "currency": obj{"type": "string"}}}),
			"404": problemRef("NotFound"), "409": problem("not_payable (state or zero amount), already_paid, payment_pending (the last checkout was completed; " +
				"its payment is being confirmed) or payment_refused (Stripe refused the call)"),
			"422": problem("amount_not_chargeable: the amount has more decimals than the currency"), "503": unavailable, "default": problemRef("Error")}}
	refund := obj{"operationId": "refund" + n, "tags": []string{r.Name}, "summary": "Refund a paid record of " + r.Name + " in full",
		"description": "Refunds the record's payment through Stripe (roles: " + strings.Join(r.Payable.Refund, ", ") + ").",
		"parameters":  []obj{id},
		"responses": obj{"200": jsonResponse("The payment", obj{"type": "object", "properties": obj{"state": obj{"type": "string"},
			"refund_id": obj{"type": "string"}, "amount": obj{"type": "string"}, "currency": obj{"type": "string"}}}),
			"404": problemRef("NotFound"), "409": problem("not_refundable, already_refunded (in Stripe already) or payment_refused (Stripe refused the call)"), "503": unavailable, "default": problemRef("Error")}}
	ops := map[string]obj{"pay": pay}
	if len(r.Payable.Refund) > 0 {
		ops["refund"] = refund
	}
	for name, op := range ops {
		if s.Auth != nil {
			op["security"] = []obj{{"bearerAuth": []string{}}}
			op["responses"].(obj)["401"] = problemRef("Unauthorized")
			op["responses"].(obj)["403"] = problemRef("Forbidden")
		}
		paths[s.Server.BasePath+"/"+r.Name+"/{id}/"+name] = obj{"post": op}
	}
}
