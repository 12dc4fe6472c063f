package logic

import (
	"context"
	"math"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/query"
	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/value"
)

const shopLogic = `
name: logic
roles: [staff, customer]
auth: {account: users}
resources:
  users:
    fields: {name: string}
  products:
    fields:
      name: {type: string, required: true}
      price: {type: decimal, precision: 12, scale: 2, required: true}
      stock: {type: integer, default: 0}
  orders:
    fields:
      status:
        type: enum
        values: [pending, paid, shipped, cancelled]
        default: pending
        initial: [pending]
        transitions:
          - {from: pending, to: paid}
          - {from: [pending, paid], to: cancelled}
          - {from: paid, to: shipped, roles: [staff]}
          - {from: shipped, to: cancelled, when: "has(record.total) && record.total > 1000.0"}
      total: {type: decimal, precision: 12, scale: 2, rollup: {sum: line_total, of: items}}
      items: {type: relation, to: order_items, inverse: order}
  order_items:
    fields:
      order: {type: relation, to: orders, required: true}
      product: {type: relation, to: products, required: true}
      quantity: {type: integer, required: true, min: 1}
      unit_price: {type: decimal, precision: 12, scale: 2, default_expr: "get('products', record.product).price"}
      line_total: {type: decimal, precision: 12, scale: 2, compute: "record.quantity * record.unit_price"}
    rules:
      - name: in_stock
        check: "get('products', record.product).stock >= record.quantity"
        code: insufficient_stock
        conflict: true
        fields: [quantity]
        message: not enough in stock
      - name: few_items
        check: "count('order_items', 'order == record.order') < 3"
        on: [create]
`

// fakeReader answers cross-record reads from records in memory and records what it locked.
type fakeReader struct {
	records map[string]*Record
	locked  []string
	counts  map[string]int64
	wheres  []query.Cond // the conditions Count was asked for, in order
}

func (f *fakeReader) Lock(_ context.Context, res, id string) error {
	f.locked = append(f.locked, res+"/"+id)
	return nil
}
func (f *fakeReader) LockSet(context.Context, string) error { return nil }
func (f *fakeReader) Count(_ context.Context, res string, where query.Cond) (int64, error) {
	f.wheres = append(f.wheres, where)
	return f.counts[res], nil
}
func (f *fakeReader) Get(_ context.Context, res, id string) (*Record, error) {
	return f.records[id], nil
}
func (f *fakeReader) Aggregate(context.Context, string, string, string, query.Cond) (any, error) {
	return nil, nil
}
func (f *fakeReader) IDs(context.Context, string, query.Cond, int) ([]string, error) { return nil, nil }

func compileShop(t *testing.T) (*Logic, *spec.Spec) {
	t.Helper()
	s, err := spec.Parse("logic.yaml", []byte(shopLogic), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	l, err := Compile(s)
	require.NoError(t, err)
	return l, s
}

func TestDefaultsComputeAndRulesWithExactDecimals(t *testing.T) {
	t.Parallel()
	l, _ := compileShop(t)
	items := l.Resource("order_items")
	product := "0192f0a0-0000-7000-8000-000000000001"
	reader := &fakeReader{records: map[string]*Record{product: {Resource: "products",
		Fields: map[string]any{"id": product, "price": value.FromUnits(1999, 2), "stock": int64(5)}}}, counts: map[string]int64{"order_items": 2}}
	rec := &Record{Resource: "order_items", Fields: map[string]any{"product": product, "quantity": int64(3), "order": "0192f0a0-0000-7000-8000-0000000000aa"}}
	vars := &Vars{Record: rec, Now: time.Now(), Operation: "create", Auth: &Auth{Role: "customer"}}
	ctx := context.Background()
	d, err := items.Defaults(ctx, reader, vars, func(string) bool { return true }, map[string]bool{})
	require.NoError(t, err)
	require.Equal(t, value.FromUnits(1999, 2), d["unit_price"])
	c, err := items.Compute(ctx, reader, vars, map[string]bool{})
	require.NoError(t, err)
	require.Equal(t, value.FromUnits(5997, 2), c["line_total"], "3 × 19.99 exactly")
	v, err := items.CheckRules(ctx, reader, vars, spec.OpCreate, func(string) bool { return false })
	require.NoError(t, err)
	require.Empty(t, v)
	require.Contains(t, reader.locked, "products/"+product, "get locks what it reads")
	require.Contains(t, reader.locked, "orders/0192f0a0-0000-7000-8000-0000000000aa", "count pins the parent")

	rec.Fields["quantity"] = int64(6)
	reader.counts["order_items"] = 3
	v, err = items.CheckRules(ctx, reader, vars, spec.OpCreate, func(string) bool { return false })
	require.NoError(t, err)
	require.Len(t, v, 2)
	require.Equal(t, "insufficient_stock", v[0].Code)
	require.True(t, v[0].Conflict)
	v, err = items.CheckRules(ctx, reader, vars, spec.OpCreate, func(f string) bool { return f == "quantity" })
	require.NoError(t, err)
	require.Len(t, v, 1, "a rule reading a refused field is left out")

	// The product is gone (deleted, or soft-deleted: rules do not see those): the rule cannot
	// be judged and fails, saying so rather than that the stock is short.
	delete(reader.records, product)
	rec.Fields["quantity"] = int64(1)
	reader.counts["order_items"] = 0
	v, err = items.CheckRules(ctx, reader, vars, spec.OpCreate, func(string) bool { return false })
	require.NoError(t, err)
	require.Len(t, v, 1)
	require.Equal(t, "insufficient_stock", v[0].Code)
	require.Equal(t, "not enough in stock (the rule cannot be computed for this record: a value or a record it reads is missing)", v[0].Message)
}

func TestStateMachine(t *testing.T) {
	t.Parallel()
	l, _ := compileShop(t)
	orders := l.Resource("orders")
	ctx := context.Background()
	check := func(from, to, role string) []Violation {
		vars := &Vars{Old: &Record{Resource: "orders", Fields: map[string]any{"status": from}},
			Record: &Record{Resource: "orders", Fields: map[string]any{"status": to}}, Auth: &Auth{Role: role}}
		v, err := orders.CheckStates(ctx, &fakeReader{}, vars, spec.OpUpdate, false)
		require.NoError(t, err)
		return v
	}
	require.Empty(t, check("pending", "paid", "customer"))
	require.Empty(t, check("paid", "shipped", "staff"))
	v := check("paid", "shipped", "customer")
	require.Len(t, v, 1, "staff only")
	require.Equal(t, "cannot change from paid to shipped: only staff may make it", v[0].Message)
	v = check("shipped", "pending", "staff")
	require.Equal(t, Violation{Code: CodeInvalidTransition, Conflict: true, Fields: []string{"status"}, From: "shipped", To: "pending",
		Message: "cannot change from shipped to pending: no transition leads there"}, v[0])
	v = check("shipped", "cancelled", "staff")
	require.Equal(t, "cannot change from shipped to cancelled: its condition does not hold (has(record.total) && record.total > 1000.0)", v[0].Message)
	created, err := orders.CheckStates(ctx, &fakeReader{}, &Vars{Record: &Record{Fields: map[string]any{"status": "paid"}}}, spec.OpCreate, false)
	require.NoError(t, err)
	require.Len(t, created, 1, "orders start pending")
}

// A hidden state machine is in no document: its refusal names the states, not the roles or
// the guard that stood in the way.
func TestHiddenStateMachineRefusesWithoutItsRules(t *testing.T) {
	t.Parallel()
	s, err := spec.Parse("hidden.yaml", []byte(`name: hidden
resources:
  claims:
    fields:
      risk: {type: integer, default: 90}
      review:
        type: enum
        values: [pending, approved]
        default: pending
        hidden: true
        transitions: [{from: pending, to: approved, when: "record.risk < 50"}]
`), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	l, err := Compile(s)
	require.NoError(t, err)
	vars := &Vars{Old: &Record{Resource: "claims", Fields: map[string]any{"review": "pending", "risk": int64(90)}},
		Record: &Record{Resource: "claims", Fields: map[string]any{"review": "approved", "risk": int64(90)}}, Auth: &Auth{Role: "x"}}
	v, err := l.Resource("claims").CheckStates(context.Background(), &fakeReader{}, vars, spec.OpUpdate, false)
	require.NoError(t, err)
	require.Len(t, v, 1)
	require.Equal(t, "cannot change from pending to approved", v[0].Message)
}

func TestBadExpressionsFailAtLoadWithPositions(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ src, want string }{
		"UnknownField":    {`check: "record.colour > 1"`, "logic.yaml:"},
		"UnknownResource": {`check: "count('widgets', 'x == 1') < 5"`, "widgets"},
		"WrongType":       {`check: "record.quantity + 'a'"`, "logic.yaml:"},
		"NotACondition":   {`check: "record.quantity"`, "must be of type bool"},
		"BadInnerFilter":  {`check: "count('order_items', 'colour == 1') < 5"`, "colour"},
		"NonLiteral":      {`check: "count(record.product, 'x') < 5"`, "constant string"},
		// An enum compared with a text none of its values is: the rule would always (or never) hold.
		"EnumTypo":                  {`check: "record.order.status != 'shiped'"`, `at 1:24: status is never "shiped": its values are pending, paid, shipped, cancelled`},
		"EnumTypoInList":            {`check: "record.order.status in ['paid', 'canceled']"`, `at 1:33: status is never "canceled"`},
		"EnumTypoInFilter":          {`check: "count('orders', 'status == \"pendng\"') < 5"`, `filter "status == \"pendng\"": at 1:11: status is never "pendng"`},
		"PathInFilterToNoField":     {`check: "count('orders', 'status == record.order.colour') < 5"`, `filter "status == record.order.colour"`},
		"PathInFilterThroughAValue": {`check: "count('orders', 'status == record.quantity.x') < 5"`, `does not support field selection`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := shopLogic + "      - " + tc.src + "\n"
			s, err := spec.Parse("logic.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
			require.NoError(t, err)
			_, err = Compile(s)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// A cross-record filter's values follow the record's to-one relations as a rule does: in
// status == record.order.status the order is read like a rule's get, and locked like one.
func TestFilterValuesFollowRelations(t *testing.T) {
	t.Parallel()
	src := shopLogic + "      - name: same_status\n        check: \"count('orders', 'status == record.order.status') < 5\"\n"
	s, err := spec.Parse("logic.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	l, err := Compile(s)
	require.NoError(t, err)
	product, order := "0192f0a0-0000-7000-8000-000000000001", "0192f0a0-0000-7000-8000-0000000000aa"
	reader := &fakeReader{records: map[string]*Record{
		product: {Resource: "products", Fields: map[string]any{"id": product, "price": value.FromUnits(1999, 2), "stock": int64(5)}},
		order:   {Resource: "orders", Fields: map[string]any{"id": order, "status": "paid"}},
	}, counts: map[string]int64{"orders": 7}}
	rec := &Record{Resource: "order_items", Fields: map[string]any{"product": product, "quantity": int64(1), "order": order}}
	vars := &Vars{Record: rec, Now: time.Now(), Operation: "create", Auth: &Auth{Role: "customer"}}
	v, err := l.Resource("order_items").CheckRules(context.Background(), reader, vars, spec.OpCreate, func(string) bool { return false })
	require.NoError(t, err)
	require.Len(t, v, 1)
	require.Equal(t, "same_status", v[0].Rule)
	require.Contains(t, reader.wheres, query.Cond(query.Compare{Field: "status", Op: query.Eq, Value: "paid"}), "%#v", reader.wheres)
	require.Contains(t, reader.locked, "orders/"+order, "the order is read as a get")
}

// A filter that follows a relation of the counted resource (order.status) is refused at load
// saying so in the spec's words, not CEL's "type 'wrapper(string)' does not support field
// selection" (a new user's trial).
func TestFilterPathThroughARelationSaysWhatToWrite(t *testing.T) {
	t.Parallel()
	src := shopLogic + "      - name: same_status\n        check: \"count('order_items', 'order.status == record.order.status') < 5\"\n"
	s, err := spec.Parse("logic.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	_, err = Compile(s)
	require.Error(t, err)
	require.Contains(t, err.Error(), "a filter compares the other resource's own fields, not a path through its relations")
	require.NotContains(t, err.Error(), "does not support field selection")
}

// A cross-record filter compares a field with null as a list filter does (IS NULL); it was
// refused at load for text, enum and relation fields ("no matching overload for '_==_'
// applied to '(string, null)'", a trial's schedule selecting orders without a note).
func TestFiltersCompareWithNull(t *testing.T) {
	t.Parallel()
	src := shopLogic + "      - name: unpriced\n        check: \"count('orders', 'status == null') + count('order_items', 'order != null && quantity == null') < 5\"\n"
	s, err := spec.Parse("logic.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	l, err := Compile(s)
	require.NoError(t, err)
	product := "0192f0a0-0000-7000-8000-000000000001"
	reader := &fakeReader{records: map[string]*Record{
		product: {Resource: "products", Fields: map[string]any{"id": product, "price": value.FromUnits(1999, 2), "stock": int64(5)}},
	}, counts: map[string]int64{}}
	rec := &Record{Resource: "order_items", Fields: map[string]any{"product": product, "quantity": int64(1), "order": "0192f0a0-0000-7000-8000-0000000000aa"}}
	vars := &Vars{Record: rec, Now: time.Now(), Operation: "create", Auth: &Auth{Role: "customer"}}
	_, err = l.Resource("order_items").CheckRules(context.Background(), reader, vars, spec.OpCreate, func(string) bool { return false })
	require.NoError(t, err)
	require.Contains(t, reader.wheres, query.Cond(query.Compare{Field: "status", Op: query.Eq}), "%#v", reader.wheres)
	require.Contains(t, reader.wheres, query.Cond(query.And{query.Compare{Field: "order", Op: query.Ne}, query.Compare{Field: "quantity", Op: query.Eq}}), "%#v", reader.wheres)
}

// An enum compared with one of its values, in a rule or a cross-record filter, compiles.
func TestEnumValuesInExpressionsCompile(t *testing.T) {
	t.Parallel()
	src := shopLogic + "      - check: \"record.order.status != 'shipped' && count('orders', 'status in [\\\"paid\\\", \\\"pending\\\"]') < 5\"\n"
	s, err := spec.Parse("logic.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	_, err = Compile(s)
	require.NoError(t, err)
}

// A guard that cannot be computed for the record (here a division by zero) does not hold: the
// change is refused as invalid_transition, not failed, and another transition to the same
// state may still allow it.
func TestGuardThatCannotBeComputedDoesNotHold(t *testing.T) {
	t.Parallel()
	s, err := spec.Parse("guard.yaml", []byte(`name: guard
roles: [member, boss]
resources:
  tasks:
    fields:
      zero: {type: integer, default: 0}
      status:
        type: enum
        values: [todo, done]
        default: todo
        transitions:
          - {from: todo, to: done, when: "100 / record.zero > 1"}
          - {from: todo, to: done, roles: [boss]}
`), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	l, err := Compile(s)
	require.NoError(t, err)
	check := func(role string) []Violation {
		vars := &Vars{Old: &Record{Resource: "tasks", Fields: map[string]any{"status": "todo", "zero": int64(0)}},
			Record: &Record{Resource: "tasks", Fields: map[string]any{"status": "done", "zero": int64(0)}}, Auth: &Auth{Role: role}}
		v, err := l.Resource("tasks").CheckStates(context.Background(), &fakeReader{}, vars, spec.OpUpdate, false)
		require.NoError(t, err)
		return v
	}
	v := check("member")
	require.Len(t, v, 1)
	require.Equal(t, CodeInvalidTransition, v[0].Code)
	require.Equal(t, "cannot change from todo to done: its condition cannot be computed for this record (100 / record.zero > 1)", v[0].Message)
	require.Empty(t, check("boss"), "the other transition allows it")
}

// A computed number that is infinite or not a number (1.0 / 0.0) says so, not that a double
// cannot be a number.
func TestNonFiniteComputedNumberSaysSo(t *testing.T) {
	t.Parallel()
	f := &spec.Field{Name: "ratio", Type: spec.TypeNumber}
	for _, x := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		_, err := StoreValue(f, types.Double(x))
		require.EqualError(t, err, "ratio: the result is not a finite number (a division by zero?)")
	}
	v, err := StoreValue(f, types.Double(0.5))
	require.NoError(t, err)
	require.InDelta(t, 0.5, v, 0)
}

// An action's enum input compared with a text none of its values is refused as a record's
// enum is (its type is the action's input, not a resource).
func TestActionInputEnumTextsAreChecked(t *testing.T) {
	t.Parallel()
	src := func(text string) string {
		return "resources:\n  tickets:\n    fields:\n      state: {type: enum, values: [open, closed], default: open}\n" +
			"    actions:\n      close:\n        access: public\n        input:\n          reason: {type: enum, values: [fixed, wontfix], required: true}\n" +
			"        steps:\n          - assert: \"input.reason != '" + text + "'\"\n            code: no_reason\n" +
			"          - set: {state: \"'closed'\"}\n"
	}
	for text, want := range map[string]string{"fixd": `at 1:17: reason is never "fixd": its values are fixed, wontfix`, "wontfix": ""} {
		s, err := spec.Parse("logic.yaml", []byte(src(text)), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
		require.NoError(t, err)
		_, err = Compile(s)
		if want == "" {
			require.NoError(t, err)
		} else {
			require.ErrorContains(t, err, want)
		}
	}
}

// A name auth does not hold (auth.rol, auth['idd']) is a spec error with its position, in a
// rule, an action's step and a cross-record filter, as it is in an access rule; it passed the
// checker (auth is a map to CEL) and failed every write the expression decided.
func TestUnknownAuthAttributesAreRefused(t *testing.T) {
	t.Parallel()
	src := func(rule, set, filter string) string {
		return "roles: [admin, member]\nresources:\n  notes:\n    fields:\n      by: {type: string}\n" +
			"    rules:\n      - check: \"" + rule + "\"\n      - check: \"count('notes', '" + filter + "') < 9\"\n" +
			"    actions:\n      sign:\n        access: public\n        steps:\n          - set: {by: \"" + set + "\"}\n"
	}
	ok := src("auth.role != 'member' && has(auth.key) && 'admin' in auth.roles", "auth.id", "by == auth.id")
	for _, c := range []struct{ spec, want string }{
		{ok, ""},
		{src("auth.rol != 'guest'", "auth.id", "by == auth.id"), "at 1:5: auth.rol is not an auth attribute (id, role, roles, key)"},
		{src("auth['idd'] != ''", "auth.id", "by == auth.id"), "auth.idd is not an auth attribute"},
		{src("true", "auth.idd", "by == auth.id"), "auth.idd is not an auth attribute"},
		{src("true", "auth.id", "by == auth.name"), "auth.name is not an auth attribute"},
	} {
		s, err := spec.Parse("logic.yaml", []byte(c.spec), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
		require.NoError(t, err)
		_, err = Compile(s)
		if c.want == "" {
			require.NoError(t, err)
		} else {
			require.ErrorContains(t, err, c.want)
		}
	}
}

// A state set to null on update names no state, not an empty one ("cannot change from live
// to : no transition leads there", a helper's trial).
func TestNullStateIsNamed(t *testing.T) {
	t.Parallel()
	s, err := spec.Parse("null.yaml", []byte(`resources:
  campaigns:
    fields:
      status:
        type: enum
        values: [draft, live]
        default: draft
        transitions:
          - {from: draft, to: live}
`), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	l, err := Compile(s)
	require.NoError(t, err)
	vars := &Vars{Old: &Record{Resource: "campaigns", Fields: map[string]any{"status": "live"}},
		Record: &Record{Resource: "campaigns", Fields: map[string]any{"status": nil}}, Auth: &Auth{Role: "admin"}}
	v, err := l.Resource("campaigns").CheckStates(context.Background(), &fakeReader{}, vars, spec.OpUpdate, false)
	require.NoError(t, err)
	require.Len(t, v, 1)
	require.Equal(t, "cannot change from live to no state (null): no transition leads there", v[0].Message)
}

// string(decimal) is the decimal's exact text without trailing zeros: a trigger's text or a
// computed label can name an amount (it failed to compile: no overload for string).
func TestStringOfADecimal(t *testing.T) {
	t.Parallel()
	s, err := spec.Parse("str.yaml", []byte(`resources:
  pledges:
    fields:
      amount: {type: decimal, precision: 12, scale: 2}
      label: {type: string, compute: "'pledged ' + string(record.amount) + ', a third ' + string(record.amount / 3) + ', whole ' + string(record.amount * 10)"}
`), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	l, err := Compile(s)
	require.NoError(t, err)
	vars := &Vars{Record: &Record{Resource: "pledges", Fields: map[string]any{"amount": value.FromUnits(2740, 2)}}, Now: time.Now()}
	c, err := l.Resource("pledges").Compute(context.Background(), &fakeReader{}, vars, map[string]bool{})
	require.NoError(t, err)
	require.Equal(t, "pledged 27.4, a third 9.133333333333333333, whole 274", c["label"])
}

// A misspelled name is offered names a spec can write, not Kiln's own functions.
func TestSuggestionsLeaveOutInternalNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "at 1:1: undeclared reference to 'x' (did you mean 'getDayOfWeek'?)",
		cleanIssues("ERROR: <input>:1:1: undeclared reference to 'x' (did you mean '__kiln_count' or 'getDayOfWeek'?)\n | x\n | ^"))
	require.Equal(t, "at 1:1: undeclared reference to 'x'", cleanIssues("ERROR: <input>:1:1: undeclared reference to 'x' (did you mean '__kiln_count'?)"))
	require.Equal(t, "at 1:1: undeclared reference to 'x' (did you mean 'y'?)", cleanIssues("ERROR: <input>:1:1: undeclared reference to 'x' (did you mean 'y'?)"))
}
