package selftest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// refused is a validation_failed answer naming fields.
func refused(fields ...string) map[string]any {
	errs := []any{}
	for _, f := range fields {
		errs = append(errs, map[string]any{"field": f, "code": "type"})
	}
	return map[string]any{"error": "validation_failed", "errors": errs}
}

func TestImpliedFieldChecks(t *testing.T) {
	t.Parallel()
	first := &Case{Request: Request{Body: map[string]any{"name": "Test Product", "price": 29.99}}}
	widget := map[string]any{"name": "Bad Widget", "price": "cheap"}
	tests := []struct {
		name  string
		body  map[string]any
		exp   Expected
		reply map[string]any
		want  []string // the fields reported as not refused
	}{
		{name: "EveryChangedFieldRefused", body: map[string]any{"name": "", "price": -10}, reply: refused("name", "price")},
		{name: "SeedCase2WithoutMinOnPrice", body: map[string]any{"name": "", "price": -10},
			exp: Expected{ResponseContains: []any{map[string]any{"error": "validation_failed"}}}, reply: refused("name"), want: []string{"price"}},
		{name: "NameIdentifiesTheRecordInASentence", body: widget,
			exp: Expected{DatabaseCheck: []any{`Product with name "Bad Widget" does not exist`}}, reply: refused("price")},
		{name: "NameIdentifiesTheRecordInAStructuredCheck", body: widget,
			exp:   Expected{DatabaseCheck: []any{map[string]any{"resource": "products", "where": map[string]any{"name": "Bad Widget"}, "exists": false}}},
			reply: refused("price")},
		{name: "NameIdentifiesTheRecordInResponseContains", body: widget,
			exp: Expected{ResponseContains: []any{map[string]any{"name": "Bad Widget"}}}, reply: refused("price")},
		{name: "ACheckOnAnotherValueIdentifiesNothing", body: widget,
			exp: Expected{DatabaseCheck: []any{`Product with name "Other" does not exist`}}, reply: refused("price"), want: []string{"name"}},
		{name: "ACheckOnAnotherFieldIdentifiesNothing", body: widget,
			exp: Expected{DatabaseCheck: []any{`Product with sku "Bad Widget" does not exist`}}, reply: refused("price"), want: []string{"name"}},
		{name: "TheIdentifyingFieldDoesNotExcuseTheOthers", body: map[string]any{"name": "Bad Widget", "price": -1},
			exp: Expected{DatabaseCheck: []any{`Product with name "Bad Widget" does not exist`}}, reply: refused(), want: []string{"price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Case{Request: Request{Body: tt.body}, Expected: tt.exp}
			failures := impliedFieldChecks(first, c, tt.reply, func(v any) any { return v })
			var fields []string
			for _, f := range failures {
				for _, name := range []string{"name", "price"} {
					if len(f) > len(name) && f[:len(name)+1] == name+" " {
						fields = append(fields, name)
					}
				}
			}
			require.Equal(t, tt.want, fields, failures)
		})
	}
}

// A validation failure is compared with the earlier success its body varies, not with the
// first success at the endpoint: a derived create file makes a project without its main task
// (a task requires a project) before the body with one that its cases vary.
func TestBaseCaseIsTheSuccessTheBodyVaries(t *testing.T) {
	t.Parallel()
	post := func(name string, status int, body map[string]any) *Case {
		return &Case{Name: name, Request: Request{Method: "POST", Path: "/api/projects", Body: body}, Expected: Expected{Status: status}}
	}
	setup := post("setup_projects", 201, map[string]any{"name": "Example name {unique}"})
	task := &Case{Name: "setup_tasks", Request: Request{Method: "POST", Path: "/api/tasks",
		Body: map[string]any{"title": "T", "main_task": "{setup_tasks.response.id}"}}, Expected: Expected{Status: 201}}
	valid := post("create_valid", 201, map[string]any{"name": "Example name {unique}1", "main_task": "{setup_tasks.response.id}"})
	tests := []struct {
		name string
		body map[string]any
		want *Case
	}{
		{name: "NameMissing", body: map[string]any{"main_task": "{setup_tasks.response.id}"}, want: valid},
		{name: "UnknownField", body: map[string]any{"name": "Example name {unique}1", "main_task": "{setup_tasks.response.id}", "x": 1}, want: valid},
		{name: "TiedGoesToTheFirst", body: map[string]any{"name": "Example name {unique}1"}, want: setup},
		{name: "NoObjectBodyGoesToTheFirst", want: setup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body any
			if tt.body != nil {
				body = tt.body
			}
			f := &File{Cases: []*Case{setup, task, valid, post("case", 400, nil)}}
			f.Cases[3].Request.Body = body
			require.Same(t, tt.want, baseCase(f, 3))
		})
	}
	t.Run("AFailedMainTaskIsStillChecked", func(t *testing.T) {
		t.Parallel()
		c := post("main_task_wrong_type", 400, map[string]any{"name": "Example name {unique}1", "main_task": 42})
		f := &File{Cases: []*Case{setup, task, valid, c}}
		base := baseCase(f, 3)
		require.Same(t, valid, base)
		require.Equal(t, []string{"main_task was changed to 42 and should fail validation, but no constraint on main_task rejected it (errors named: name)"},
			impliedFieldChecks(base, c, refused("name"), func(v any) any { return v }))
	})
}
