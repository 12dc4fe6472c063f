package openapi

import (
	"slices"

	"github.com/kiln-dev/kiln/internal/spec"
)

// builtinPaths documents Kiln's own routes beside the resources', under the conditions the
// server registers them on (rest.Handler.Register and kiln's wiring): auth routes with an auth
// block, the admin webhooks API with a webhooks: key, the stored files with a file field.
func builtinPaths(s *spec.Spec, paths, schemas obj) {
	if s.Auth != nil {
		addAuth(s, paths, schemas)
		accountPaths(s, paths, schemas)
	}
	jobPaths(s, paths, schemas)
	if s.Webhooks.Enabled {
		webhookPaths(s, paths, schemas)
	}
	incomingPaths(s, paths)
	if s.Payments.Enabled() {
		paymentAdminPath(s, paths, schemas)
	}
	if s.HasFiles() {
		storedFilePath(s, paths)
	}
	serverPaths(s, paths)
}

// problemNames are the shared problem responses (components/responses) by status.
var problemNames = map[string]string{"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
	"409": "Conflict", "412": "PreconditionFailed", "413": "TooLarge", "415": "UnsupportedMediaType", "422": "Unprocessable"}

// builtinOp is an operation of one of Kiln's own routes (accounts, admin, files, health): its
// stable operationId, its tag and summary, the success answer under its status, and the
// statuses of the problems it may answer; any other status is the default problem.
func builtinOp(id, tag, summary, status string, ok obj, problems ...string) obj {
	responses := obj{status: ok, "default": problemRef("Error")}
	for _, p := range problems {
		responses[p] = problemRef(problemNames[p])
	}
	return obj{"operationId": id, "tags": []string{tag}, "summary": summary, "responses": responses}
}

// public marks an operation that needs no credentials (the signature, the token in the body or
// nothing at all is what it checks). Without an auth block no operation has security.
func public(s *spec.Spec, op obj) obj {
	if s.Auth != nil {
		op["security"] = []obj{}
	}
	return op
}

// signedIn marks an operation that needs a bearer token (an access token or an API key) and
// may answer 401 and 403.
func signedIn(s *spec.Spec, op obj) obj {
	if s.Auth == nil {
		return op
	}
	op["security"] = []obj{{"bearerAuth": []string{}}}
	op["responses"].(obj)["401"] = problemRef("Unauthorized")
	op["responses"].(obj)["403"] = problemRef("Forbidden")
	return op
}

// noContent is a success answer without a body.
func noContent(desc string) obj { return obj{"description": desc} }

// object is a JSON object schema with exactly the named properties, all of them required.
func object(props obj) obj {
	required := make([]string, 0, len(props))
	for name := range props {
		required = append(required, name)
	}
	slices.Sort(required)
	return obj{"type": "object", "required": required, "additionalProperties": false, "properties": props}
}

// stringsBody is a body of exactly the named string fields, as the account routes read them.
func stringsBody(names ...string) obj {
	props := obj{}
	for _, n := range names {
		props[n] = obj{"type": "string", "minLength": 1}
	}
	return object(props)
}

func pathParam(name string, schema obj) obj {
	return obj{"name": name, "in": "path", "required": true, "schema": schema}
}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

// serverPaths documents the routes the server answers besides the API's: this document, and
// the liveness and readiness probes. The HTML docs page is not part of the API.
func serverPaths(s *spec.Spec, paths obj) {
	health := obj{"type": "object", "required": []string{"status"}, "properties": obj{"status": obj{"type": "string"}}}
	paths["/healthz"] = obj{"get": public(s, builtinOp("healthz", "server", "Whether the process is up", "200",
		jsonResponse("Up", health)))}
	ready := public(s, builtinOp("readyz", "server", "Whether the database answers", "200", jsonResponse("Ready", health)))
	ready["responses"].(obj)["503"] = jsonResponse("The database does not answer", health)
	paths["/readyz"] = obj{"get": ready}
	paths[s.Server.BasePath+"/openapi.json"] = obj{"get": public(s, builtinOp("openapi", "server", "This OpenAPI 3.1 document", "200",
		obj{"description": "The document", "content": obj{"application/json": obj{"schema": obj{"type": "object"}}}}))}
}
