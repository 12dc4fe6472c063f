package openapi

import (
	"strings"

	"github.com/kiln-dev/kiln/internal/integrations/payments"
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
			"400": problem("malformed_request: a body was sent (pay and refund take none)"), "404": problemRef("NotFound"), "409": problem("not_payable (state or zero amount), already_paid, payment_pending (the last checkout was completed; " +
				"its payment is being confirmed) or payment_refused (Stripe refused the call)"),
			"422": problem("amount_not_chargeable: the amount has more decimals than the currency"), "503": unavailable, "default": problemRef("Error")}}
	refund := obj{"operationId": "refund" + n, "tags": []string{r.Name}, "summary": "Refund a paid record of " + r.Name + " in full",
		"description": "Refunds the record's payment through Stripe (roles: " + strings.Join(r.Payable.Refund, ", ") + ").",
		"parameters":  []obj{id},
		"responses": obj{"200": jsonResponse("The payment", obj{"type": "object", "properties": obj{"state": obj{"type": "string"},
			"refund_id": obj{"type": "string"}, "amount": obj{"type": "string"}, "currency": obj{"type": "string"}}}),
			"400": problem("malformed_request: a body was sent (pay and refund take none)"), "404": problemRef("NotFound"), "409": problem("not_refundable, already_refunded (in Stripe already) or payment_refused (Stripe refused the call)"), "503": unavailable, "default": problemRef("Error")}}
	ops := map[string]obj{"pay": pay}
	if len(r.Payable.Refund) > 0 {
		ops["refund"] = refund
	}
	for name, op := range ops {
		if s.Auth != nil {
			op["security"] = tokenOrKey()
			op["responses"].(obj)["401"] = problemRef("Unauthorized")
			op["responses"].(obj)["403"] = problemRef("Forbidden")
		}
		paths[s.Server.BasePath+"/"+r.Name+"/{id}/"+name] = obj{"post": op}
	}
}

// paymentAdminPath documents GET {base}/admin/payments, served when the spec takes payments.
func paymentAdminPath(s *spec.Spec, paths, schemas obj) {
	str, nullStr := obj{"type": "string"}, obj{"type": []string{"string", "null"}}
	when := obj{"type": "string", "format": "date-time"}
	schemas["PaymentAttempt"] = object(obj{"resource": str, "record_id": str, "attempt": obj{"type": "integer", "minimum": 1},
		"state": obj{"type": "string", "enum": payments.States}, "amount": str, "currency": str,
		"paid_amount": obj{"type": []string{"string", "null"}, "description": "What Stripe reported paid; null until then"},
		"account_id":  nullStr, "session_id": nullStr, "session_expires_at": obj{"type": []string{"string", "null"}, "format": "date-time"},
		"intent_id": nullStr, "refund_id": nullStr, "moved": obj{"type": "boolean", "description": "This attempt's payment moved the record to paid"},
		"problem":    obj{"type": []string{"string", "null"}, "description": "Why an event of this attempt did not move the record (a sum that is not the record's, a record deleted since)"},
		"created_at": when, "updated_at": when})
	page := obj{"type": "object", "required": []string{"items"}, "properties": obj{"items": obj{"type": "array", "items": ref("PaymentAttempt")},
		"next_cursor": obj{"type": "string", "description": "Pass as ?cursor= for the next page; absent on the last"}}}
	var payable []string
	for _, r := range s.Resources {
		if r.Payable != nil {
			payable = append(payable, r.Name)
		}
	}
	list := admin(s, builtinOp("listPayments", "admin", "List payment attempts, newest first", "200", jsonResponse("A page of attempts", page), "400"))
	list["parameters"] = []obj{queryParam("resource", "Only attempts of this payable resource", obj{"type": "string", "enum": payable}),
		queryParam("record_id", "With resource: only this record's attempts", obj{"type": "string"}),
		queryParam("state", "Only attempts in this state", obj{"type": "string", "enum": payments.States}),
		queryParam("problem", "true: only attempts with a problem; false: only those without", obj{"type": "boolean"}),
		queryParam("limit", "Page size, 1 to 500 (default 50)", obj{"type": "integer", "minimum": 1, "maximum": 500}),
		queryParam("cursor", "next_cursor of the previous page", obj{"type": "string"})}
	paths[s.Server.BasePath+"/admin/payments"] = obj{"get": list}
}
