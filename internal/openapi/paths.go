package openapi

import (
	"strconv"

	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

func jsonBody(schema obj) obj {
	return obj{"required": true, "content": obj{"application/json": obj{"schema": schema}}}
}

func jsonResponse(desc string, schema obj) obj {
	return obj{"description": desc, "content": obj{"application/json": obj{"schema": schema}},
		"headers": obj{"X-Request-ID": obj{"schema": obj{"type": "string"}}}}
}

func problemRef(name string) obj { return obj{"$ref": "#/components/responses/" + name} }

func paramRef(name string) obj { return obj{"$ref": "#/components/parameters/" + name} }

// ifNoneMatch is the conditional read header: a 304 without a body when a tag matches.
func ifNoneMatch() obj {
	return obj{"name": "If-None-Match", "in": "header", "required": false, "schema": obj{"type": "string"},
		"description": "ETags from earlier reads of the same URL, or *; 304 without a body when one matches (weak comparison)."}
}

func collectionPaths(r *spec.Resource, n string) obj {
	params := []obj{paramRef("limit"), paramRef("cursor"), paramRef("page"), paramRef("sort"), paramRef("filter"),
		paramRef("fields"), paramRef("expand"), paramRef("count"), ifNoneMatch()}
	if r.SoftDelete {
		params = append(params, paramRef("deleted"))
	}
	params = append(params, shorthandParams(r)...)
	return obj{
		"get": obj{"operationId": "list" + n, "tags": []string{r.Name}, "summary": "List " + r.Name,
			"parameters": params,
			"responses": obj{"200": withHeaders(jsonResponse("A page of "+r.Name, ref(n+"List")), "ETag"),
				"304": obj{"description": "Not modified"}, "400": problemRef("BadRequest"), "default": problemRef("Error")}},
		"post": obj{"operationId": "create" + n, "tags": []string{r.Name}, "summary": "Create a record in " + r.Name,
			"parameters": []obj{idempotencyKey()}, "requestBody": jsonBody(ref(n + "Create")),
			"responses": obj{"201": withHeaders(jsonResponse("Created", ref(n)), "Location", "ETag"),
				"400": problemRef("BadRequest"), "409": problemRef("Conflict"), "413": problemRef("TooLarge"),
				"415": problemRef("UnsupportedMediaType"), "422": problemRef("Unprocessable"), "default": problemRef("Error")}},
	}
}

func withHeaders(resp obj, names ...string) obj {
	h := resp["headers"].(obj)
	for _, n := range names {
		h[n] = obj{"schema": obj{"type": "string"}}
	}
	return resp
}

func itemPaths(r *spec.Resource, n string) obj {
	ifMatch := ifMatchHeader()
	writeResponses := obj{"200": withHeaders(jsonResponse("Updated", ref(n)), "ETag"), "400": problemRef("BadRequest"),
		"404": problemRef("NotFound"), "409": problemRef("Conflict"), "412": problemRef("PreconditionFailed"),
		"413": problemRef("TooLarge"), "415": problemRef("UnsupportedMediaType"), "422": problemRef("Unprocessable"), "default": problemRef("Error")}
	return obj{
		"parameters": []obj{{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string", "format": "uuid"}}},
		"get": obj{"operationId": "get" + n, "tags": []string{r.Name}, "summary": "Get one record of " + r.Name,
			"parameters": []obj{paramRef("fields"), paramRef("expand"), ifNoneMatch()},
			"responses": obj{"200": withHeaders(jsonResponse("The record", ref(n)), "ETag"), "304": obj{"description": "Not modified"},
				"400": problemRef("BadRequest"), "404": problemRef("NotFound"), "default": problemRef("Error")}},
		"patch": obj{"operationId": "update" + n, "tags": []string{r.Name}, "summary": "Change some fields",
			"parameters": []obj{ifMatch, idempotencyKey()}, "requestBody": jsonBody(ref(n + "Update")), "responses": writeResponses},
		"put": obj{"operationId": "replace" + n, "tags": []string{r.Name}, "summary": "Replace every field",
			"parameters": []obj{ifMatch}, "requestBody": jsonBody(ref(n + "Create")), "responses": writeResponses},
		"delete": obj{"operationId": "delete" + n, "tags": []string{r.Name}, "summary": "Delete a record of " + r.Name,
			"parameters": []obj{ifMatch},
			"responses": obj{"204": obj{"description": "Deleted"}, "400": problemRef("BadRequest"), "404": problemRef("NotFound"), "409": problemRef("Conflict"),
				"412": problemRef("PreconditionFailed"), "default": problemRef("Error")}},
	}
}

// ifMatchHeader is the conditional write header of updates, deletes, actions and restores.
func ifMatchHeader() obj {
	return obj{"name": "If-Match", "in": "header", "required": false, "schema": obj{"type": "string"},
		"description": "The ETag of the record as read (it names the version and the relation values); 412 when the record changed since."}
}

func sharedParameters() obj {
	q := func(name, desc string, schema obj) obj {
		return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
	}
	str := obj{"type": "string"}
	expandDoc := "Comma-separated relations to return as records; a dotted path (unit.property) expands the " +
		"related records' own relations too, at most " + strconv.Itoa(service.MaxExpandDepth) + " relations deep."
	return obj{
		"limit":  q("limit", "Page size, 1 to "+strconv.Itoa(service.MaxLimit)+"; default "+strconv.Itoa(service.DefaultLimit)+".", obj{"type": "integer", "minimum": 1, "maximum": service.MaxLimit}),
		"cursor": q("cursor", "The next_cursor of the previous page (keyset paging, the default).", str),
		"page":   q("page", "Page number for offset paging (not with cursor).", obj{"type": "integer", "minimum": 1}),
		"sort":   q("sort", "Comma-separated fields, - for descending: -price,name.", str),
		"filter": q("filter", `A CEL condition: price > 10 && name.startsWith("T").`, str),
		"fields": q("fields", "Comma-separated fields to return (id always).", str),
		"expand": q("expand", expandDoc, str),
		"count":  q("count", "true adds total, the number of matching records.", obj{"type": "boolean"}),
		"deleted": q("deleted", "Soft-delete resources: true lists the deleted records instead, for those who may restore them.",
			obj{"type": "boolean"}),
	}
}

func problemSchema(s *spec.Spec) obj {
	return obj{"type": "object", "required": []string{"type", "title", "status", "error", "request_id"}, "properties": obj{
		"type": obj{"type": "string"}, "title": obj{"type": "string"}, "status": obj{"type": "integer"},
		"error":      obj{"type": "string", "enum": problemCodes(s)},
		"detail":     obj{"type": "string"},
		"request_id": obj{"type": "string"},
		"errors": obj{"type": "array", "items": obj{"type": "object", "required": []string{"field", "code", "message"},
			"properties": obj{"field": obj{"type": "string"}, "code": obj{"type": "string"}, "message": obj{"type": "string"}}}},
	}}
}

func problemResponses() obj {
	p := func(desc string) obj {
		return obj{"description": desc, "content": obj{"application/problem+json": obj{"schema": ref("Problem")}}}
	}
	return obj{"BadRequest": p("Invalid input (validation_failed or malformed_request)"), "NotFound": p("Not found"),
		"Unauthorized": p("No or invalid credentials (with WWW-Authenticate)"), "Forbidden": p("Signed in, but not allowed"),
		"Conflict": p("Unique value taken, record still referenced, a rule about stored state failed (its own code), invalid_transition, or idempotency_in_progress"), "PreconditionFailed": p("If-Match does not match"),
		"TooLarge": p("Body too large"), "UnsupportedMediaType": p("Body is not application/json"),
		"Unprocessable": p("Idempotency-Key reused with another body (idempotency_key_reused)"), "Error": p("Any other error")}
}
