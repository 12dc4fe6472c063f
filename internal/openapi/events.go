package openapi

import "github.com/kiln-dev/kiln/internal/spec"

// eventsPath documents GET {collection}/events, the resource's live updates.
func eventsPath(s *spec.Spec, r *spec.Resource, n string, paths obj) {
	lastEventID := obj{"name": "Last-Event-ID", "in": "header", "required": false, "schema": obj{"type": "string"},
		"description": "Resume after this event id (EventSource sends it when it reconnects): nothing written meanwhile is missed."}
	after := obj{"name": "after", "in": "query", "required": false, "schema": obj{"type": "integer", "minimum": 0},
		"description": "Like Last-Event-ID, for clients that cannot set headers; the header wins."}
	message := obj{"type": "object", "required": []string{"resource", "operation", "record_id", "record", "at"}, "properties": obj{
		"resource":  obj{"type": "string"},
		"operation": obj{"type": "string", "enum": []string{"create", "update", "delete", "action"}},
		"action":    obj{"type": "string", "description": "The action's name, on action events."},
		"record_id": obj{"type": "string"},
		"record":    obj{"allOf": []obj{ref(n)}, "description": "The record after the change (before it, for a delete), as a GET shows it."},
		"at":        obj{"type": "string", "format": "date-time"},
	}}
	desc := "Server-Sent Events: one message per committed change of a record the caller may list and the filter " +
		"keeps. `id:` is the event id, `event:` the operation, `data:` the JSON described here; a comment every 15 s " +
		"keeps idle streams open. Without Last-Event-ID the stream starts now."
	paths[s.Server.BasePath+"/"+r.Name+"/events"] = secure(s, r, obj{
		"get": obj{"operationId": "watch" + n, "tags": []string{r.Name}, "summary": "Stream changes of " + r.Name,
			"parameters": []obj{paramRef("filter"), after, lastEventID},
			"responses": obj{"200": obj{"description": desc, "content": obj{"text/event-stream": obj{"schema": message}}},
				"400": problemRef("BadRequest"), "default": problemRef("Error")}},
	})
}
