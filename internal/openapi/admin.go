package openapi

import (
	"reflect"
	"strings"

	"github.com/kiln-dev/kiln/internal/integrations/webhooks"
	"github.com/kiln-dev/kiln/internal/jobs"
	"github.com/kiln-dev/kiln/internal/spec"
)

// adminDescription says who may call the admin routes: the server answers 403 to everybody
// else, and to everybody when the spec has no auth block.
const adminDescription = "Only a signed-in account of an administering role (auth.admin_roles), never an API key; without an auth block, 403 always."

// admin is an operation of the admin API.
func admin(s *spec.Spec, op obj) obj {
	op["description"] = adminDescription
	op["responses"].(obj)["403"] = problemRef("Forbidden")
	return signedIn(s, op)
}

// jobPaths documents {base}/admin/jobs, which every server answers (the queue always runs).
func jobPaths(s *spec.Spec, paths, schemas obj) {
	p := s.Server.BasePath + "/admin/jobs"
	schemas["Job"] = SchemaOf(reflect.TypeFor[jobs.Job]())
	states := jobs.States
	list := admin(s, builtinOp("listJobs", "admin", "List jobs, newest first", "200", jsonResponse("A page of jobs",
		obj{"type": "object", "required": []string{"items"}, "properties": obj{"items": obj{"type": "array", "items": ref("Job")},
			"next_before": obj{"type": "integer", "description": "Pass as ?before= for the next page; absent on the last"}}}), "400"))
	list["parameters"] = []obj{queryParam("state", "Only jobs in this state", obj{"type": "string", "enum": states}),
		queryParam("kind", "Only jobs of this kind", obj{"type": "string"}),
		queryParam("limit", "Page size, 1 to 500", obj{"type": "integer", "minimum": 1, "maximum": 500}),
		queryParam("before", "Jobs with a smaller id (next_before of the previous page)", obj{"type": "integer", "minimum": 1})}
	kind := obj{"type": "object", "properties": obj{"kind": obj{"type": "string"}, "waiting": obj{"type": "integer"},
		"running": obj{"type": "integer"}, "dead": obj{"type": "integer"}, "cancelled": obj{"type": "integer"},
		"completed": obj{"type": "integer"}, "failed": obj{"type": "integer"}, "oldest_waiting_ms": obj{"type": "integer"},
		"run_time_total_ms": obj{"type": "integer"}, "run_time_max_ms": obj{"type": "integer"}}}
	stats := obj{"type": "object", "required": []string{"staged", "waiting", "kinds", "oldest_waiting_ms"}, "properties": obj{
		"staged": obj{"type": "integer"}, "waiting": obj{"type": "integer"}, "oldest_waiting_ms": obj{"type": "integer"},
		"kinds": obj{"type": "array", "items": kind}}}
	id := []obj{pathParam("id", obj{"type": "integer", "minimum": 1})}
	one := func(opID, summary string) obj {
		op := admin(s, builtinOp(opID, "admin", summary, "200", jsonResponse("The job", ref("Job")), "404"))
		op["parameters"] = id
		return op
	}
	paths[p] = obj{"get": list}
	paths[p+"/stats"] = obj{"get": admin(s, builtinOp("jobStats", "admin", "The queue's figures, per kind", "200", jsonResponse("The figures", stats)))}
	paths[p+"/{id}"] = obj{"get": one("getJob", "One job")}
	paths[p+"/{id}/retry"] = obj{"post": one("retryJob", "Run a failed or cancelled job again now")}
	cancel := one("cancelJob", "Cancel a job that has not finished")
	cancel["responses"].(obj)["409"] = problemRef("Conflict")
	cancel["description"] = "A job that has finished already (completed, cancelled or dead) is 409 conflict, left as it is. " + adminDescription
	paths[p+"/{id}/cancel"] = obj{"post": cancel}
}

// webhookPaths documents {base}/admin/webhooks, served when the spec has a webhooks: key.
func webhookPaths(s *spec.Spec, paths, schemas obj) {
	p := s.Server.BasePath + "/admin/webhooks"
	schemas["Webhook"] = SchemaOf(reflect.TypeFor[webhooks.Subscription]())
	schemas["WebhookCreated"] = SchemaOf(reflect.TypeFor[webhooks.Created]())
	schemas["WebhookAttempt"] = SchemaOf(reflect.TypeFor[webhooks.Attempt]())
	input := SchemaOf(reflect.TypeFor[webhooks.Input]())
	input["additionalProperties"] = false
	delete(input, "required") // every field is optional on an update; create checks its own
	name := []obj{pathParam("name", obj{"type": "string"})}
	withName := func(op obj) obj { op["parameters"] = name; return op }
	items := func(item string) obj {
		return obj{"type": "object", "required": []string{"items"}, "properties": obj{"items": obj{"type": []string{"array", "null"}, "items": ref(item)}}}
	}
	replayed := obj{"type": "object", "required": []string{"replayed"}, "properties": obj{"replayed": obj{"type": "integer"}}}
	create := admin(s, builtinOp("createWebhook", "admin", "Subscribe a URL to events", "201",
		withHeaders(jsonResponse("The subscription, with its secret shown this once", ref("WebhookCreated")), "Location"), "400", "409"))
	create["requestBody"] = jsonBody(input)
	update := withName(admin(s, builtinOp("updateWebhook", "admin", "Change a subscription", "200", jsonResponse("The subscription", ref("Webhook")), "400", "404", "409")))
	update["requestBody"] = jsonBody(input)
	rotate := withName(admin(s, builtinOp("rotateWebhookSecret", "admin", "Give a subscription a new secret (the old one signs too, for overlap)", "200",
		jsonResponse("The subscription with its new secret", ref("WebhookCreated")), "400", "404", "409")))
	rotate["requestBody"] = optionalBody(obj{"type": "object", "additionalProperties": false, "properties": obj{
		"secret": obj{"type": []string{"string", "null"}}, "overlap": obj{"type": "string", "description": "A duration, at most 720h; default 24h"}}})
	deliveries := withName(admin(s, builtinOp("listWebhookDeliveries", "admin", "A subscription's delivery attempts, newest first", "200",
		jsonResponse("A page of attempts", items("WebhookAttempt")), "400", "404")))
	deliveries["parameters"] = append(name, queryParam("limit", "Page size, at most 500", obj{"type": "integer", "minimum": 1}),
		queryParam("before", "Attempts with a smaller id", obj{"type": "integer", "minimum": 1}))
	replay := withName(admin(s, builtinOp("replayFailedWebhooks", "admin", "Send again the failed deliveries since a time", "202",
		jsonResponse("How many are sent again", replayed), "400", "404")))
	replay["requestBody"] = jsonBody(object(obj{"since": obj{"type": "string", "format": "date-time"}}))
	replayOne := admin(s, builtinOp("replayWebhookDelivery", "admin", "Send one message again", "202", jsonResponse("Sent again", replayed), "404"))
	replayOne["parameters"] = append([]obj{}, name[0], pathParam("message", obj{"type": "string"}))
	paths[p] = obj{"get": admin(s, builtinOp("listWebhooks", "admin", "List the subscriptions", "200", jsonResponse("The subscriptions", items("Webhook")))), "post": create}
	paths[p+"/{name}"] = obj{"get": withName(admin(s, builtinOp("getWebhook", "admin", "One subscription", "200", jsonResponse("The subscription", ref("Webhook")), "404"))),
		"patch": update, "delete": withName(admin(s, builtinOp("deleteWebhook", "admin", "Delete a subscription made through this API", "204", noContent("Deleted"), "404", "409")))}
	paths[p+"/{name}/rotate"] = obj{"post": rotate}
	paths[p+"/{name}/deliveries"] = obj{"get": deliveries}
	paths[p+"/{name}/replay"] = obj{"post": replay}
	paths[p+"/{name}/deliveries/{message}/replay"] = obj{"post": replayOne}
}

// optionalBody is a JSON body the route reads as {} when it is empty.
func optionalBody(schema obj) obj {
	return obj{"required": false, "content": obj{"application/json": obj{"schema": schema}}}
}

// incomingTag tags the incoming webhook endpoints.
const incomingTag = "webhooks"

// incomingPaths documents the spec's incoming webhook endpoints (the payments one among them),
// served at their own paths without credentials: the signature is checked instead.
func incomingPaths(s *spec.Spec, paths obj) {
	answer := obj{"type": "object", "required": []string{"received", "event_id", "duplicate"}, "properties": obj{
		"received": obj{"type": "boolean"}, "event_id": obj{"type": "string"},
		"duplicate": obj{"type": "boolean", "description": "The event was received before; nothing runs again"}}}
	for _, in := range s.Webhooks.Incoming {
		scheme := "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"
		if in.Scheme == spec.SchemeStripe {
			scheme = "Stripe (Stripe-Signature)"
		}
		op := public(s, builtinOp("receive"+typeName(in.Name), incomingTag, "Incoming webhook "+in.Name, "200",
			jsonResponse("Received", answer), "400", "413"))
		op["description"] = "Signed the " + scheme + " way with the endpoint's secret (from the environment)" +
			"; a bad or stale signature is 400, an unset secret 503 (the sender retries)."
		op["responses"].(obj)["503"] = problemRef("Error")
		op["requestBody"] = obj{"required": true, "content": obj{"*/*": obj{"schema": obj{}}}}
		paths[strings.TrimSuffix(in.Path, "{$}")] = obj{"post": op}
	}
}
