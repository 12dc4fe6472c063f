package openapi

import (
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// describeLogic documents what the business logic does to a field: computed and rollup
// fields are read-only, a state machine lists its initial states and transitions.
func describeLogic(s obj, f *spec.Field) {
	var notes []string
	switch {
	case f.Compute.Set():
		s["readOnly"] = true
		notes = append(notes, "Computed on every write: "+f.Compute.Text+".")
	case f.Rollup != nil:
		s["readOnly"] = true
		what := f.Rollup.Func + " of " + f.Rollup.Of + "." + f.Rollup.Field
		if f.Rollup.Func == "count" {
			what = "count of " + f.Rollup.Of
		}
		if f.Rollup.Where.Set() {
			what += " where " + f.Rollup.Where.Text
		}
		notes = append(notes, "Kept equal to the "+what+" in the same transaction.")
	}
	if f.DefaultExpr.Set() {
		notes = append(notes, "Defaults to "+f.DefaultExpr.Text+".")
	}
	if len(f.Transitions) > 0 {
		notes = append(notes, stateNotes(f))
		s["x-kiln-initial"] = f.Initial
		s["x-kiln-transitions"] = transitions(f)
	}
	if len(notes) > 0 {
		if d, ok := s["description"].(string); ok {
			notes = append([]string{d}, notes...)
		}
		s["description"] = strings.Join(notes, " ")
	}
}

func stateNotes(f *spec.Field) string {
	var b strings.Builder
	b.WriteString("A state machine")
	if len(f.Initial) > 0 {
		b.WriteString(" starting in " + strings.Join(f.Initial, " or "))
	}
	b.WriteString("; a change outside these transitions is 409 invalid_transition:")
	for _, t := range f.Transitions {
		b.WriteString(" " + strings.Join(t.From, "|") + " → " + t.To)
		if len(t.Roles) > 0 {
			b.WriteString(" (" + strings.Join(t.Roles, ", ") + ")")
		}
		if t.When.Set() {
			b.WriteString(" when " + t.When.Text)
		}
		b.WriteString(";")
	}
	return strings.TrimSuffix(b.String(), ";") + "."
}

func transitions(f *spec.Field) []obj {
	out := make([]obj, 0, len(f.Transitions))
	for _, t := range f.Transitions {
		o := obj{"from": t.From, "to": t.To}
		if len(t.Roles) > 0 {
			o["roles"] = t.Roles
		}
		if t.When.Set() {
			o["when"] = t.When.Text
		}
		out = append(out, o)
	}
	return out
}

// problemCodes lists every top-level error code the API can answer with: Kiln's own and the
// codes the spec's rules and action assertions declare.
func problemCodes(s *spec.Spec) []string {
	codes := []string{"validation_failed", "malformed_request", "unauthorized", "forbidden", "not_found",
		"method_not_allowed", "conflict", "unprocessable", "precondition_failed", "payload_too_large",
		"unsupported_media_type", "rate_limited", "query_timeout", "unavailable", "invalid_transition",
		"logic_failed", "idempotency_key_reused", "idempotency_in_progress", "internal"}
	seen := map[string]bool{}
	for _, c := range codes {
		seen[c] = true
	}
	add := func(c string) {
		if c != "" && !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	for _, c := range featureCodes(s) {
		add(c)
	}
	for _, r := range s.Resources {
		for _, rl := range r.Rules {
			if rl.Conflict {
				add(rl.Code)
			}
		}
		for _, a := range r.Actions {
			for _, st := range a.Steps {
				if st.Assert.Set() {
					add(st.Code)
				}
			}
		}
	}
	return codes
}

// featureCodes are the codes of the parts of Kiln the spec enables: payments, files, webhooks.
func featureCodes(s *spec.Spec) []string {
	var codes []string
	if s.Payments.Enabled() {
		codes = append(codes, "not_payable", "already_paid", "not_refundable", "amount_not_chargeable", "payments_not_configured",
			"payment_provider_unavailable", "payment_refused", "already_refunded", "payment_pending")
	}
	if s.HasFiles() {
		codes = append(codes, "too_many_files", "signed_url_invalid", "signed_url_expired", "direct_upload_unavailable", "storage_not_configured")
	}
	if s.Webhooks.Enabled || len(s.Webhooks.Incoming) > 0 {
		codes = append(codes, "webhook_exists", "webhook_declared_in_spec", "webhook_url_forbidden", "webhook_signature_invalid",
			"webhook_timestamp_stale", "webhook_malformed", "webhook_not_configured")
	}
	return codes
}

// actionPaths documents the record actions of r: POST {base}/{resource}/{id}/{action}.
func actionPaths(s *spec.Spec, r *spec.Resource, n string, paths obj) {
	for _, a := range r.Actions {
		paths[s.Server.BasePath+"/"+r.Name+"/{id}/"+a.Name] = obj{"post": actionOp(s, r, a, n)}
	}
	if r.SoftDelete {
		restorePath(s, r, n, paths)
	}
	if r.Payable != nil && s.Payments.Enabled() {
		paymentPaths(s, r, n, paths)
	}
}

// actionOp is the operation of one record action. It lists what the handler answers: a
// body, when one is sent, is read as any write's (413 too large, 415 not JSON), If-Match is
// honoured (412), and a signed-in account the action's access rule refuses is 403. The body
// is required only when an input field has neither a value of its own nor a default: the
// handler takes an empty body as no input.
func actionOp(s *spec.Spec, r *spec.Resource, a *spec.RecordAction, n string) obj {
	op := obj{"operationId": a.Name + n, "tags": []string{r.Name}, "summary": "Action " + a.Name + " on a record of " + r.Name,
		"description": actionDescription(a),
		"parameters":  []obj{{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string", "format": "uuid"}}, ifMatchHeader(), idempotencyKey()},
		"responses": obj{"200": withHeaders(jsonResponse("The record after the action", ref(n)), "ETag"),
			"400": problemRef("BadRequest"), "404": problemRef("NotFound"), "409": problemRef("Conflict"),
			"412": problemRef("PreconditionFailed"), "413": problemRef("TooLarge"), "415": problemRef("UnsupportedMediaType"),
			"422": problemRef("Unprocessable"), "default": problemRef("Error")}}
	if len(a.Input) > 0 {
		input := writeSchema(a.InputResource(r.Name), true)
		body := jsonBody(input)
		_, needed := input["required"]
		body["required"] = needed
		op["requestBody"] = body
	}
	if s.Auth != nil {
		op["security"] = tokenOrKey()
		op["responses"].(obj)["401"] = problemRef("Unauthorized")
		if a.Access == nil || !a.Access.Public {
			op["responses"].(obj)["403"] = problemRef("Forbidden")
		}
	}
	return op
}

// restorePath documents the built-in restore of a soft-delete resource.
func restorePath(s *spec.Spec, r *spec.Resource, n string, paths obj) {
	op := obj{"operationId": "restore" + n, "tags": []string{r.Name}, "summary": "Restore a deleted record of " + r.Name,
		"description": "Brings back a soft-deleted record as it was (whoever may delete it may restore it; list the deleted ones with ?deleted=true). " +
			"The resource's create rules are checked again; a unique value taken meanwhile is 409.",
		"parameters": []obj{{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string", "format": "uuid"}}, ifMatchHeader(), idempotencyKey()},
		"responses": obj{"200": withHeaders(jsonResponse("The restored record", ref(n)), "ETag"),
			"400": problemRef("BadRequest"), "404": problemRef("NotFound"), "409": problemRef("Conflict"),
			"412": problemRef("PreconditionFailed"), "422": problemRef("Unprocessable"), "default": problemRef("Error")}}
	if s.Auth != nil {
		op["security"] = tokenOrKey()
		op["responses"].(obj)["401"] = problemRef("Unauthorized")
	}
	paths[s.Server.BasePath+"/"+r.Name+"/{id}/restore"] = obj{"post": op}
}

func actionDescription(a *spec.RecordAction) string {
	var b strings.Builder
	if a.Access != nil && a.Access.Expr != "" {
		b.WriteString("Allowed when " + a.Access.Expr + ". ")
	}
	if a.Go {
		b.WriteString("Implemented in Go. ")
	}
	b.WriteString("Runs in one transaction through the record's rules and state machine; an assertion that fails answers 409 with its code.")
	return b.String()
}

// idempotencyKey is the Idempotency-Key header of POST, PATCH and actions.
func idempotencyKey() obj {
	return obj{"name": "Idempotency-Key", "in": "header", "required": false, "schema": obj{"type": "string", "maxLength": 255},
		"description": "Retry safely: the same key and body get the stored answer (Idempotent-Replayed: true); another body with the key is 422 idempotency_key_reused; while the first request runs, 409 idempotency_in_progress."}
}

// documentReplays declares the Idempotent-Replayed header on the successful answers of the
// operations that take an Idempotency-Key. Answers may be shared with an operation that
// takes none (PATCH's with PUT), so each such operation gets copies.
func documentReplays(paths obj) {
	replayed := obj{"description": "true when the answer is the stored one of an earlier request with the same Idempotency-Key",
		"schema": obj{"type": "string", "enum": []string{"true"}}}
	for _, item := range paths {
		for _, method := range []string{"post", "put", "patch", "delete"} {
			op, ok := item.(obj)[method].(obj)
			if !ok || !takesIdempotencyKey(op) {
				continue
			}
			rs := copyObj(op["responses"].(obj))
			op["responses"] = rs
			for code, r := range rs {
				resp, ok := r.(obj)
				if !ok || len(code) != 3 || code[0] != '2' {
					continue
				}
				old, _ := resp["headers"].(obj)
				headers := copyObj(old)
				headers["Idempotent-Replayed"] = replayed
				copied := copyObj(resp)
				copied["headers"] = headers
				rs[code] = copied
			}
		}
	}
}

func copyObj(o obj) obj {
	out := make(obj, len(o)+1)
	for k, v := range o {
		out[k] = v
	}
	return out
}

func takesIdempotencyKey(op obj) bool {
	params, _ := op["parameters"].([]obj)
	for _, p := range params {
		if p["name"] == "Idempotency-Key" {
			return true
		}
	}
	return false
}

// batchPath documents POST {base}/batch.
func batchPath(s *spec.Spec, paths obj) {
	opSchema := obj{"type": "object", "required": []string{"method", "path"}, "additionalProperties": false, "properties": obj{
		"method": obj{"type": "string", "enum": []string{"POST", "PATCH", "DELETE"}},
		"path":   obj{"type": "string", "description": "A resource path; {N.field} is replaced by the result of operation N.", "examples": []string{s.Server.BasePath + "/orders/{0.id}"}},
		"body":   obj{"type": "object", "description": `The write's body; a value {"$ref": "N.field"} is replaced by the result of operation N.`},
	}}
	result := obj{"type": "object", "required": []string{"status", "resource"}, "properties": obj{
		"status": obj{"type": "integer"}, "resource": obj{"type": "string"}, "record": obj{"type": "object"},
		"id": obj{"type": "string", "description": "The deleted record's id"}}}
	op := obj{"operationId": "batch", "tags": []string{"batch"}, "summary": "Several writes in one transaction",
		"description": fmt.Sprintf("Up to %d creates, updates and deletes, all or nothing; each is validated and authorized as if sent alone. A failing operation is named in the problem (operations[N].body.field).", s.Server.BatchMax),
		"parameters":  []obj{idempotencyKey()},
		"requestBody": jsonBody(obj{"type": "object", "required": []string{"operations"}, "additionalProperties": false, "properties": obj{
			"operations": obj{"type": "array", "minItems": 1, "maxItems": s.Server.BatchMax, "items": opSchema}}}),
		"responses": obj{"200": jsonResponse("A result per operation", obj{"type": "object", "properties": obj{"results": obj{"type": "array", "items": result}}}),
			"400": problemRef("BadRequest"), "404": problemRef("NotFound"), "409": problemRef("Conflict"), "422": problemRef("Unprocessable"), "default": problemRef("Error")}}
	if s.Auth != nil {
		op["security"] = append(tokenOrKey(), obj{})
	}
	paths[s.Server.BasePath+"/batch"] = obj{"post": op}
}

// nestedChildren adds to a create schema the children a nested inverse relation carries:
// POST /api/orders {"items": [{"product": …, "quantity": 2}]}, and theirs, at every level
// (a course's sections with their lessons: the second level was left out, and a client
// validating against the document refused a body the server accepts).
func nestedChildren(s *spec.Spec, r *spec.Resource, create obj) obj {
	return nestedAt(s, r, create, map[string]bool{r.Name: true})
}

func nestedAt(s *spec.Spec, r *spec.Resource, create obj, path map[string]bool) obj {
	props := create["properties"].(obj)
	for _, f := range r.Fields {
		if !f.Nested || !f.IsInverse() || path[f.Relation.To] {
			continue
		}
		to := s.Resource(f.Relation.To)
		path[to.Name] = true
		child := nestedAt(s, to, writeSchema(to, true), path)
		delete(path, to.Name)
		delete(child["properties"].(obj), f.Relation.Inverse)
		if req, ok := child["required"].([]string); ok {
			var kept []string
			for _, name := range req {
				if name != f.Relation.Inverse {
					kept = append(kept, name)
				}
			}
			child["required"] = kept
			if len(kept) == 0 {
				delete(child, "required")
			}
		}
		props[f.Name] = obj{"type": "array", "items": child, "maxItems": 1000,
			"description": "Children created with the record in the same transaction; errors are named " + f.Name + "[i].field."}
	}
	return create
}
