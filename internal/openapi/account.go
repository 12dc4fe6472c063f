package openapi

import (
	"reflect"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/spec"
)

// accountPaths documents the account routes beside sign-up and login (rest's registerAuth and
// registerPassword): the signing keys, password and email changes, verification, invitations
// and API keys. They exist whenever the spec has an auth block.
func accountPaths(s *spec.Spec, paths, schemas obj) {
	base := s.Server.BasePath + "/auth/"
	account := ref(typeName(s.Auth.Account))
	post := func(path string, op obj, body obj) {
		op["requestBody"] = jsonBody(body)
		paths[base+path] = obj{"post": op}
	}
	jwks := obj{"type": "object", "required": []string{"keys"}, "properties": obj{
		"keys": obj{"type": "array", "items": SchemaOf(reflect.TypeFor[auth.JWK]())}}}
	paths[base+"jwks.json"] = obj{"get": public(s, builtinOp("jwks", "auth", "The public keys that verify access tokens (JWKS)", "200",
		jsonResponse("The key set; empty while tokens are HS256", jwks)))}
	post("password", signedIn(s, builtinOp("changePassword", "auth", "Change one's own password (ends the other sessions)", "204",
		noContent("Changed"), "400")), stringsBody("current_password", "new_password"))
	post("password/reset", public(s, builtinOp("requestPasswordReset", "auth", "Mail a password reset code (answered alike for every address)", "202",
		noContent("Accepted"), "400")), stringsBody("email"))
	post("password/reset/confirm", public(s, builtinOp("confirmPasswordReset", "auth", "Set a new password with a reset code", "204",
		noContent("Changed"), "400", "401")), stringsBody("token", "new_password"))
	paths[base+"verify"] = obj{"post": signedIn(s, builtinOp("requestVerification", "auth", "Mail a code that verifies the signed-in account's email", "202",
		noContent("Accepted")))}
	post("verify/confirm", public(s, builtinOp("confirmVerification", "auth", "Verify an email with its code", "204",
		noContent("Verified"), "400", "401")), stringsBody("token"))
	post("email", signedIn(s, builtinOp("changeEmail", "auth", "Change one's own email (the account becomes unverified)", "200",
		jsonResponse("The account", account), "400", "409")), stringsBody("current_password", "new_email"))
	post("invites", signedIn(s, builtinOp("invite", "auth", "Mail a single-use invitation valid 7 days (administering roles)", "202",
		noContent("Accepted"), "400")), object(obj{"email": obj{"type": "string", "format": "email"}, "role": roleSchema(s)}))
	reset := signedIn(s, builtinOp("resetAccountPassword", "auth", "Set another account's password (administering roles)", "204",
		noContent("Changed; the account's sessions are ended"), "400", "404"))
	reset["parameters"] = []obj{pathParam("id", obj{"type": "string", "format": "uuid"})}
	post("accounts/{id}/password", reset, stringsBody("new_password"))
	keyPaths(s, base, paths, schemas)
	if len(s.Auth.Providers) > 0 {
		oidcPaths(s, base, paths)
	}
}

// keyPaths documents the API keys an administering account manages.
func keyPaths(s *spec.Spec, base string, paths, schemas obj) {
	schemas["APIKey"] = obj{"type": "object", "required": []string{"id", "prefix", "name", "role", "scopes", "created_at", "expires_at", "last_used_at", "revoked"},
		"properties": obj{"id": obj{"type": "string"}, "prefix": obj{"type": "string", "description": "The key's first characters, to tell keys apart"},
			"name": obj{"type": "string"}, "role": roleSchema(s), "scopes": obj{"type": "array", "items": obj{"type": "string"}},
			"created_at": obj{"type": "string", "format": "date-time"}, "expires_at": obj{"type": []string{"string", "null"}, "format": "date-time"},
			"last_used_at": obj{"type": []string{"string", "null"}, "format": "date-time"}, "revoked": obj{"type": "boolean"}}}
	input := obj{"type": "object", "additionalProperties": false, "required": []string{"name", "role", "scopes"}, "properties": obj{
		"name": obj{"type": "string", "minLength": 1, "maxLength": 100}, "role": roleSchema(s),
		"scopes": obj{"type": "array", "minItems": 1, "items": obj{"type": "string"}, "examples": []any{[]string{"products:read"}},
			"description": "What the key may do, within its role's access: resource:action (list, view, create, update, delete or a record action), resource:read, resource:write or resource:*; resource may be *"},
		"expires_in": obj{"type": "string", "description": "A duration such as 720h; none: the key does not expire", "examples": []string{"720h"}}}}
	created := obj{"type": "object", "required": []string{"key", "api_key"}, "properties": obj{
		"key": obj{"type": "string", "description": "The secret, shown this once: send it as X-API-Key or Authorization: Bearer"}, "api_key": ref("APIKey")}}
	create := signedIn(s, builtinOp("createAPIKey", "auth", "Create an API key (administering roles)", "201", jsonResponse("The key and its secret", created), "400"))
	create["requestBody"] = jsonBody(input)
	list := signedIn(s, builtinOp("listAPIKeys", "auth", "List the API keys (administering roles)", "200",
		jsonResponse("The keys, without their secrets", obj{"type": "object", "required": []string{"items"}, "properties": obj{"items": obj{"type": "array", "items": ref("APIKey")}}})))
	revoke := signedIn(s, builtinOp("revokeAPIKey", "auth", "Revoke an API key (administering roles)", "204", noContent("Revoked"), "404"))
	revoke["parameters"] = []obj{pathParam("id", obj{"type": "string"})}
	paths[base+"keys"] = obj{"post": create, "get": list}
	paths[base+"keys/{id}"] = obj{"delete": revoke}
}

// oidcPaths documents logging in with the spec's OpenID Connect providers.
func oidcPaths(s *spec.Spec, base string, paths obj) {
	names := make([]string, 0, len(s.Auth.Providers))
	for _, p := range s.Auth.Providers {
		names = append(names, p.Name)
	}
	provider := pathParam("provider", obj{"type": "string", "enum": names})
	start := public(s, builtinOp("oauthStart", "auth", "Start logging in with a provider", "302",
		obj{"description": "To the provider's login page, with a signed state cookie", "headers": obj{"Location": obj{"schema": obj{"type": "string"}}}}, "404"))
	start["parameters"] = []obj{provider}
	callback := public(s, builtinOp("oauthCallback", "auth", "Where the provider sends the browser back: signs in", "200",
		jsonResponse("A token pair", ref("TokenPair")), "400", "401", "403", "404"))
	callback["parameters"] = []obj{provider, queryParam("code", "From the provider", obj{"type": "string"}),
		queryParam("state", "From the provider", obj{"type": "string"})}
	for _, op := range []obj{start, callback} { // the provider's discovery could not be reached
		op["responses"].(obj)["503"] = problemRef("Error")
	}
	paths[base+"oauth/{provider}/start"] = obj{"get": start}
	paths[base+"oauth/{provider}/callback"] = obj{"get": callback}
}

// roleSchema is a role's value: one of the spec's roles.
func roleSchema(s *spec.Spec) obj {
	if len(s.Roles) == 0 {
		return obj{"type": "string"}
	}
	return obj{"type": "string", "enum": s.Roles}
}
