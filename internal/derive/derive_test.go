package derive

import (
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/selftest"
	"github.com/kiln-dev/kiln/internal/spec"
)

func noEnv(string) (string, bool) { return "", false }

func generate(t *testing.T, path string) *Suite {
	t.Helper()
	s, err := spec.Load(path, spec.ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	suite, err := Generate(s)
	require.NoError(t, err)
	return suite
}

// caseNames parses every file and returns file name → case names.
func caseNames(t *testing.T, suite *Suite) map[string][]string {
	out := map[string][]string{}
	for _, f := range suite.Files {
		tf, err := selftest.ParseFile(f.Name, f.Data)
		require.NoError(t, err, string(f.Data))
		for _, c := range tf.Cases {
			out[f.Name] = append(out[f.Name], c.Name)
		}
	}
	return out
}

func TestShopSuiteCoversEveryResourceAndAction(t *testing.T) {
	t.Parallel()
	suite := generate(t, "../../examples/shop/kiln.yaml")
	require.Empty(t, suite.Gaps)
	names := caseNames(t, suite)
	require.Len(t, names, 7*5+1, "one file per resource and action, and one per record action (orders.cancel)")
	require.Equal(t, []string{"order_items rule order_open on update: no violated_by to derive a violating case from",
		"order_items rule order_open on delete: a delete sends no values to break it with"}, suite.Uncovered)
	// the endpoints it sends nothing to are named, not left out without a word (a helper's trial)
	require.Equal(t, []string{"POST and DELETE /api/products/{id}/files/image (an upload sends a file, not JSON)",
		"POST /api/orders/{id}/pay and /refund (a payment reaches Stripe)",
		"POST and DELETE /api/orders/{id}/files/invoice (an upload sends a file, not JSON)"}, suite.Unsent)
	for _, res := range []string{"users", "categories", "tags", "products", "customers", "orders", "order_items"} {
		for _, action := range spec.Actions {
			require.Contains(t, names, res+"."+string(action)+".test.yaml")
		}
	}
	want := map[string][]string{
		"products.create.test.yaml": {"create_valid", "name_missing", "name_too_short", "name_too_long", "price_below_min",
			"price_too_many_decimals", "price_too_many_digits", "sku_taken", "stock_fraction", "category_unknown_reference",
			"tags_unknown_reference", "malformed_json", "unknown_field", "oversized_body", "no_credentials", "invalid_token",
			"expired_token", "forbidden_for_customer"},
		"categories.create.test.yaml": {"slug_not_matching_pattern", "name_taken", "slug_taken"},
		// fields write roles guard are checked as a role that may write them: orders.customer and
		// owner (staff, admin), order_items.unit_price (staff, admin; its default_expr fills it in,
		// so it is never missing), users.role (admin)
		"orders.create.test.yaml":      {"status_not_in_enum", "owner_not_writable_by_customer", "status_not_initial", "customer_unknown_reference", "owner_wrong_type"},
		"users.create.test.yaml":       {"role_not_in_enum", "role_wrong_type"},
		"orders.update.test.yaml":      {"status_transition_refused", "status_transition_allowed"},
		"orders.cancel.test.yaml":      {"run", "run_again", "unknown_id", "no_credentials", "own_record_as_customer", "other_account_as_customer"},
		"order_items.create.test.yaml": {"quantity_above_max", "unique_index_1_taken", "rule_in_stock_violated", "unit_price_below_min", "unit_price_too_many_decimals"},
		"orders.view.test.yaml":        {"unknown_id", "other_accounts_record_as_customer", "own_record_as_customer", "own_record_of_another_customer"},
		"users.update.test.yaml":       {"patch_valid", "put_valid", "email_taken", "role_not_writable_on_own_record_as_customer"},
		"orders.list.test.yaml":        {"all_pages", "sort_by_total_descending", "filter_on_status", "shorthand_status", "all_pages_as_customer", "bad_filter"},
		"categories.list.test.yaml":    {"all_pages_anonymous"},
		"products.delete.test.yaml":    {"forbidden_for_customer", "delete", "delete_again", "read_after_delete"},
		"customers.view.test.yaml":     {"forbidden_for_customer", "malformed_id"},
		"order_items.update.test.yaml": {"unique_index_1_taken", "quantity_null", "rule_in_stock_for_more_violated"},
	}
	for file, cases := range want {
		for _, c := range cases {
			require.Contains(t, names[file], c, file)
		}
	}
	require.NotContains(t, names["order_items.create.test.yaml"], "unit_price_missing", "its default_expr fills it in")
	again := generate(t, "../../examples/shop/kiln.yaml")
	require.Equal(t, suite.Files, again.Files, "the same spec derives the same files")
}

func TestOpenSpecHasNoCredentialCases(t *testing.T) {
	t.Parallel()
	path := writeSpec(t, `name: notes
resources:
  notes:
    fields:
      title: {type: string, required: true, max_length: 10}
      due: {type: date}
`)
	suite := generate(t, path)
	names := caseNames(t, suite)
	require.Len(t, names, 5)
	create := strings.Join(names["notes.create.test.yaml"], " ")
	require.Contains(t, create, "title_too_long")
	require.Contains(t, create, "due_wrong_type")
	require.NotContains(t, create, "no_credentials")
	require.NotContains(t, string(suite.Files[0].Data), "valid_token")
}

func TestUnreachableActionsAreReportedAsGaps(t *testing.T) {
	t.Parallel()
	path := writeSpec(t, `name: audit
roles: [admin]
auth: {account: users}
resources:
  users:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  entries:
    fields:
      text: string
    access: {list: [admin], view: [admin]}
`)
	suite := generate(t, path)
	require.Contains(t, suite.Gaps, "entries create: no role may create entries")
	require.Contains(t, suite.Gaps, "entries update: no role may update every entries record")
	require.Len(t, suite.Files, 5, "users' five files; entries cannot be set up")
}

func TestEveryFieldTypeIsDerived(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/everything.yaml")
	require.Empty(t, suite.Gaps)
	names := caseNames(t, suite)
	create := strings.Join(names["projects.create.test.yaml"], " ")
	for _, c := range []string{"homepage_wrong_type", "contact_wrong_type", "budget_below_min", "budget_above_max",
		"ratio_too_many_decimals", "starts_on_wrong_type", "due_at_wrong_type", "external_id_wrong_type",
		"phase_not_in_enum", "priority_fraction", "archived_wrong_type", "parent_unknown_reference",
		"author_not_writable_by_member"} {
		require.Contains(t, create, c)
	}
	require.NotContains(t, create, "meta_wrong_type", "any JSON is valid")
	var people string
	for _, f := range suite.Files {
		if f.Name == "people.create.test.yaml" {
			people = string(f.Data)
		}
	}
	require.Contains(t, people, "nickname: \"{random:people.nickname}\"", "the pattern has no room for {unique}")
	require.Contains(t, people, "{create_valid.response.nickname}", "a taken value is read from the record holding it")
}

// Values come from the fields' examples (variant 0 as written, later variants days after it,
// enums and booleans the example in every variant), and the one-field PATCH of an own record changes a
// field no rule reads: a new starts_at alone would break ends_at > starts_at.
func TestExamplesShapeTheDerivedValues(t *testing.T) {
	t.Parallel()
	s, err := spec.Load("testdata/clinic.yaml", spec.ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	appts, pets, vets := s.Resource("appointments"), s.Resource("pets"), s.Resource("vets")
	field := func(r *spec.Resource, name string) *spec.Field {
		for _, f := range r.Fields {
			if f.Name == name {
				return f
			}
		}
		t.Fatalf("no field %s", name)
		return nil
	}
	starts, ends := field(appts, "starts_at"), field(appts, "ends_at")
	require.Equal(t, "2030-05-01T09:00:00Z", variant(starts, 0, "", nil))
	require.Equal(t, "2030-05-01T09:30:00+00:00", variant(ends, 0, "", nil), "the example as written")
	require.Equal(t, "2030-05-03T09:00:00Z", variant(starts, 2, "", nil))
	require.Equal(t, "2030-05-03T09:30:00Z", variant(ends, 2, "", nil), "both move by the same days")
	require.Equal(t, "2019-04-30", variant(field(pets, "birth_date"), 0, "", nil))
	require.Equal(t, "2019-05-01", variant(field(pets, "birth_date"), 1, "", nil))
	require.Equal(t, "cat", variant(field(pets, "species"), 0, "", nil))
	require.Equal(t, "cat", variant(field(pets, "species"), 1, "", nil), "create_valid (variant 1) sends the example too")
	require.Equal(t, false, variant(field(vets, "on_call"), 0, "", nil))
	require.Equal(t, false, variant(field(vets, "on_call"), 1, "", nil))
	yes := *field(vets, "on_call")
	one := "1"
	yes.Example = &one
	require.Equal(t, true, variant(&yes, 0, "", nil), `"1" is true, as the spec reads it`)
	plain := *starts
	plain.Example = nil
	require.Equal(t, "2026-01-01T12:00:00Z", variant(&plain, 0, "", nil), "without an example, as before")
	require.Equal(t, "2026-01-29T12:00:00Z", variant(&plain, 28, "", nil))

	own := ownChange(appts)
	require.Len(t, own, 1)
	require.Equal(t, "reason", own[0].Key, "starts_at and ends_at are read by a rule")
}

// A role whose rule reaches its records through a relation (record.pet.owner == auth.id) makes
// its own record with a target it made itself: made by the file's role, the pet would be
// the admin's, and the client could not refer to it.
func TestOwnRecordsReferToTargetsTheRoleMade(t *testing.T) {
	t.Parallel()
	byName := casesOf(t, generate(t, "testdata/clinic.yaml"), "appointments.view.test.yaml")
	own := byName["owned_by_client"]
	require.NotNil(t, own)
	body, ok := own.Request.Body.(map[string]any)
	require.True(t, ok, "%T", own.Request.Body)
	ref, _ := body["pet"].(string)
	setup := strings.TrimSuffix(strings.TrimPrefix(ref, "{"), ".response.id}")
	require.NotNil(t, byName[setup], "the pet %q is made in the file", ref)
	require.Equal(t, "client", byName[setup].As, "the client makes its own pet")
	require.Equal(t, "admin", byName["setup_pets"].As, "the shared pet stays the file role's")
}

// casesOf parses the named derived file and returns its cases by name.
func casesOf(t *testing.T, suite *Suite, file string) map[string]*selftest.Case {
	t.Helper()
	for _, f := range suite.Files {
		if f.Name != file {
			continue
		}
		tf, err := selftest.ParseFile(f.Name, f.Data)
		require.NoError(t, err)
		out := map[string]*selftest.Case{}
		for _, c := range tf.Cases {
			out[c.Name] = c
		}
		return out
	}
	t.Fatalf("no %s", file)
	return nil
}

// A number with an example that a rule reads is its example in every body (guests stays
// within the room's capacity). The own-record PATCH, when a rule reads every plain field,
// moves all dates together and never sends the state machine's field (its start state: no
// change). Found by a helper's booking spec.
func TestRuleReadValuesStayWithinTheirRules(t *testing.T) {
	t.Parallel()
	path := writeSpec(t, `name: stays
resources:
  rooms:
    fields:
      capacity: {type: integer, required: true, min: 1, max: 10, example: 4}
  bookings:
    fields:
      status:
        type: enum
        values: [pending, confirmed]
        default: pending
        transitions: [{from: pending, to: confirmed}]
      room: {type: relation, to: rooms, required: true}
      guests: {type: integer, required: true, min: 1, example: 2}
      nights: {type: integer, example: 3}
      check_in: {type: date, required: true, example: "2030-06-01"}
      check_out: {type: date, required: true, example: "2030-06-04"}
      min_stay: {type: integer, min: 1}
      max_stay: {type: integer, example: 30}
      season: {type: integer, example: 2030}
      league: {type: enum, values: [a, b], example: a}
    indexes:
      - {fields: [league, season], unique: true}
    rules:
      - name: stays_ordered
        check: "!has(record.min_stay) || record.min_stay <= record.max_stay"
        fields: [min_stay]
        message: min stay above max
      - name: modern
        check: "record.season >= 2000"
        fields: [season]
        message: too old
      - name: fits_room
        check: "record.guests <= record.room.capacity"
        fields: [guests]
        message: too many guests
      - name: dates_ordered
        check: "record.check_out > record.check_in && record.nights >= 0"
        fields: [check_out]
        message: check out after check in
`)
	s, err := spec.Load(path, spec.ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	bookings := s.Resource("bookings")
	b := body(bookings, 7, "{unique}7", func(string) string { return "{room}" })
	values := map[string]any{}
	for _, item := range b {
		values[item.Key.(string)] = item.Value
	}
	require.EqualValues(t, 2, values["guests"], "a rule reads guests: its example")
	require.EqualValues(t, 3, values["nights"], "nights is read by a rule too")
	require.EqualValues(t, 37, values["max_stay"], "min_stay moves and a rule compares the two: both move")
	require.EqualValues(t, 2037, values["season"], "unique with league: it moves, or the file's records clash")
	require.Equal(t, "2030-06-08", values["check_in"])
	require.Equal(t, "2030-06-11", values["check_out"], "dates move together")
	require.Equal(t, yaml.MapSlice{{Key: "check_in", Value: "2030-06-07"}, {Key: "check_out", Value: "2030-06-10"}}, ownChange(bookings))
}

// When the file's own role reaches its records through a relation (only clients create
// appointments, and reach them through their pets), the shared targets are that role's too:
// made by the admin, the pet would not be the client's to refer to (29 of 37 create cases
// failed so, found by a hostile review).
func TestSharedTargetsAreTheFileRolesWhenItsRuleGoesThroughThem(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/clinic.yaml")
	require.NoError(t, err)
	onlyClients := strings.Replace(string(src), "      create: [admin, vet, client]\n      update: \"auth.role in ['admin', 'vet'] || record.pet.owner == auth.id\"",
		"      create: [client]\n      update: \"auth.role in ['admin', 'vet'] || record.pet.owner == auth.id\"", 1)
	require.NotEqual(t, string(src), onlyClients)
	cases := casesOf(t, generate(t, writeSpec(t, onlyClients)), "appointments.create.test.yaml")
	require.Equal(t, "client", cases["setup_pets"].As)
	require.Equal(t, "admin", cases["setup_vets"].As, "vets are reached through no rule: the admin makes them")
}

// No derived file sends the same {unique} value twice in creates that expect 201: a role's own
// record in a list file took the variant of the file's third record (a helper's org slug).
func TestCreatesInAFileSendDistinctUniqueValues(t *testing.T) {
	t.Parallel()
	// orgs: a role's own record in the list file; tasks: a unique field, a state machine (its
	// records in the update file) and own records
	suite, _ := deriveSpec(t, `name: uniques
roles: [admin, member]
auth: {account: users}
resources:
  users:
    fields: {name: string}
    access: {list: [admin], view: [admin, member], create: [admin], update: [admin], delete: [admin]}
  orgs:
    fields:
      slug: {type: string, required: true, unique: true}
      owner: {type: relation, to: users, required: true, default: auth.id, write: [admin]}
    access:
      list: "auth.role == 'admin' || record.owner == auth.id"
      view: "auth.role == 'admin' || record.owner == auth.id"
      create: [admin, member]
      update: [admin]
      delete: [admin]
  tasks:
    fields:
      code: {type: string, required: true, unique: true}
      owner: {type: relation, to: users, required: true, default: auth.id, write: [admin]}
      status: {type: enum, values: [todo, doing, done], default: todo, transitions: [{from: todo, to: doing}, {from: doing, to: done}]}
    access:
      list: "auth.role == 'admin' || record.owner == auth.id"
      view: "auth.role == 'admin' || record.owner == auth.id"
      create: [admin, member]
      update: "auth.role == 'admin' || record.owner == auth.id"
      delete: [admin]
`)
	for _, path := range []string{"testdata/clinic.yaml", "testdata/everything.yaml", "testdata/tracker.yaml", "testdata/open.yaml",
		"testdata/cycle.yaml", "../../examples/shop/kiln.yaml", "../../examples/library/kiln.yaml"} {
		s := generate(t, path)
		suite.Files = append(suite.Files, s.Files...)
	}
	for _, f := range suite.Files {
		tf, err := selftest.ParseFile(f.Name, f.Data)
		require.NoError(t, err)
		seen := map[string]string{}
		for _, c := range tf.Cases {
			body, ok := c.Request.Body.(map[string]any)
			if c.Request.Method != "POST" || c.Expected.Status != 201 || !ok {
				continue
			}
			for k, v := range body {
				s, _ := v.(string)
				if !strings.Contains(s, "{unique}") {
					continue
				}
				key := c.Request.Path + " " + k + "=" + s
				require.Empty(t, seen[key], "%s: %s and %s both send %s", f.Name, seen[key], c.Name, key)
				seen[key] = c.Name
			}
		}
	}
}
