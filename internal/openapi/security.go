package openapi

import (
	"strings"

	"github.com/kiln-dev/kiln/internal/auth"
	"github.com/kiln-dev/kiln/internal/spec"
)

var methodAction = map[string]spec.Action{"post": spec.ActionCreate, "patch": spec.ActionUpdate,
	"put": spec.ActionUpdate, "delete": spec.ActionDelete}

// secure documents each operation's requirement: public ones need nothing, the others a
// bearer token, with 401 and 403 answers and the rule in the description.
func secure(s *spec.Spec, r *spec.Resource, item obj) obj {
	if s.Auth == nil {
		return item
	}
	for method, op := range item {
		o, ok := op.(obj)
		if !ok {
			continue
		}
		action, isWrite := methodAction[method]
		if !isWrite {
			action = spec.ActionList
			if _, hasID := item["parameters"]; hasID {
				action = spec.ActionView
			}
		}
		rule := r.Access[action]
		if rule != nil && rule.Public {
			o["security"] = []obj{}
			continue
		}
		o["security"] = tokenOrKey()
		o["description"] = describeRule(rule)
		responses := o["responses"].(obj)
		responses["401"] = problemRef("Unauthorized")
		responses["403"] = problemRef("Forbidden")
	}
	return item
}

func describeRule(rule *spec.Rule) string {
	switch {
	case rule == nil:
		return "Not allowed for any account (no access rule)."
	case len(rule.Roles) > 0:
		return "Roles: " + strings.Join(rule.Roles, ", ") + "."
	}
	return "Allowed when `" + rule.Expr + "`; records that do not match are not found."
}

// addAuth documents the auth endpoints.
func addAuth(s *spec.Spec, paths, schemas obj) {
	account := typeName(s.Auth.Account)
	schemas["TokenPair"] = obj{"type": "object", "required": []string{"access_token", "refresh_token", "token_type", "expires_in", "user"},
		"properties": obj{"access_token": obj{"type": "string"}, "refresh_token": obj{"type": "string"},
			"token_type": obj{"type": "string", "enum": []string{"Bearer"}}, "expires_in": obj{"type": "integer"}, "user": ref(account)}}
	creds := obj{"type": "object", "additionalProperties": false, "required": []string{"email", "password"},
		"properties": obj{"email": obj{"type": "string", "format": "email"}, "password": obj{"type": "string"}}}
	refresh := obj{"type": "object", "additionalProperties": false, "required": []string{"refresh_token"},
		"properties": obj{"refresh_token": obj{"type": "string"}}}
	signup := signupSchema(s)
	pair := jsonResponse("A token pair", ref("TokenPair"))
	base := s.Server.BasePath + "/auth/"
	post := func(id, summary string, body obj, ok string, resp obj) obj {
		return obj{"post": obj{"operationId": id, "tags": []string{"auth"}, "summary": summary, "security": []obj{},
			"requestBody": jsonBody(body), "responses": obj{ok: resp, "400": problemRef("BadRequest"),
				"401": problemRef("Unauthorized"), "403": problemRef("Forbidden"), "429": problemRef("Error"), "default": problemRef("Error")}}}
	}
	paths[base+"signup"] = post("signup", "Create an account and sign in", signup, "201", pair)
	paths[base+"signup"].(obj)["post"].(obj)["responses"].(obj)["409"] = problemRef("Conflict") // the email has an account
	paths[base+"login"] = post("login", "Sign in with email and password", creds, "200", pair)
	paths[base+"refresh"] = post("refresh", "Exchange a refresh token for a new pair (rotating)", refresh, "200", pair)
	paths[base+"logout"] = post("logout", "End the session of a refresh token", refresh, "204", obj{"description": "Signed out"})
	paths[base+"me"] = obj{"get": obj{"operationId": "me", "tags": []string{"auth"}, "summary": "The signed-in account",
		"security":  []obj{{"bearerAuth": []string{}}},
		"responses": obj{"200": jsonResponse("The account", ref(account)), "401": problemRef("Unauthorized"), "default": problemRef("Error")}}}
}

// signupSchema is what sign-up accepts: the account's fields but those with write roles
// (role, verified, disabled: 400 not_allowed), a password, and an invitation's code —
// required with signup: invite.
func signupSchema(s *spec.Spec) obj {
	account := s.Resource(s.Auth.Account)
	out := writeSchema(account, true)
	props := out["properties"].(obj)
	required := []string{spec.FieldPassword}
	kept, _ := out["required"].([]string)
	for _, f := range account.Fields {
		if len(f.Write) > 0 {
			delete(props, f.Name)
		}
	}
	for _, name := range kept {
		if _, ok := props[name]; ok {
			required = append(required, name)
		}
	}
	props[spec.FieldPassword] = obj{"type": "string", "minLength": 8, "writeOnly": true}
	props[auth.FieldInvite] = obj{"type": "string", "writeOnly": true,
		"description": "The code of an invitation (POST auth/invites): the account gets its role and counts as verified."}
	if s.Auth.Signup == "invite" {
		required = append(required, auth.FieldInvite)
	}
	out["required"] = required
	return out
}

// securitySchemes are the credentials a request may carry: an access token (or an API key)
// as Authorization: Bearer, or an API key as X-API-Key.
func securitySchemes(s *spec.Spec) obj {
	return obj{
		"bearerAuth": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
			"description": "An access token from " + s.Server.BasePath + "/auth/login (an API key is taken here too)"},
		"apiKeyAuth": obj{"type": "apiKey", "in": "header", "name": "X-API-Key",
			"description": "An API key from " + s.Server.BasePath + "/auth/keys (kiln_…); access tokens are 401 here"},
	}
}

// tokenOrKey is the requirement of the routes API keys may call: a bearer credential or an
// X-API-Key header, either one.
func tokenOrKey() []obj {
	return []obj{{"bearerAuth": []string{}}, {"apiKeyAuth": []string{}}}
}
