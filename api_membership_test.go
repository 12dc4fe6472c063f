package kiln_test

import (
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// workspace: multi-tenant access by membership. An org's records are for its members
// (exists() on memberships, tied by the record's org or its project's org), a membership's
// owners manage the org's memberships (an exists() on the resource itself), a document's
// readers are an N:M list (auth.id in record.readers), a board's members the inverse of the
// accounts' boards (auth.id in record.members).
const workspace = `roles: [admin, member]
auth:
  account: users
  signup: "off"
  admin_roles: [admin]
resources:
  users:
    fields:
      name: string
      boards: {type: relation, to: boards, many: true}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  orgs:
    fields:
      name: {type: string, required: true}
    access:
      list: "auth.role == 'admin' || exists('memberships', 'org == record.id && user == auth.id')"
      view: "auth.role == 'admin' || exists('memberships', 'org == record.id && user == auth.id')"
      create: [admin]
      update: "exists('memberships', \"org == record.id && user == auth.id && role == 'owner'\")"
      delete: [admin]
  memberships:
    fields:
      org: {type: relation, to: orgs, required: true}
      user: {type: relation, to: users, required: true, allow_hidden: true}
      role: {type: enum, values: [owner, member], default: member}
    indexes:
      - {fields: [org, user], unique: true}
      - fields: [user]
    access:
      list: "auth.role == 'admin' || record.user == auth.id || exists('memberships', \"org == record.org && user == auth.id && role == 'owner'\")"
      view: "auth.role == 'admin' || record.user == auth.id || exists('memberships', \"org == record.org && user == auth.id && role == 'owner'\")"
      create: "auth.role == 'admin' || exists('memberships', \"org == record.org && user == auth.id && role == 'owner'\")"
      update: [admin]
      delete: "auth.role == 'admin' || exists('memberships', \"org == record.org && user == auth.id && role == 'owner'\")"
  projects:
    fields:
      org: {type: relation, to: orgs, required: true}
      name: {type: string, required: true}
    access:
      list: "exists('memberships', 'org == record.org && user == auth.id')"
      view: "auth.role == 'admin' || exists('memberships', 'org == record.org && user == auth.id')"
      create: "auth.role == 'admin' || exists('memberships', 'org == record.org && user == auth.id')"
      update: "exists('memberships', 'org == record.org && user == auth.id')"
      delete: "exists('memberships', \"org == record.org && user == auth.id && role == 'owner'\")"
  tasks:
    soft_delete: true
    fields:
      project: {type: relation, to: projects, required: true}
      title: {type: string, required: true}
      labels: {type: relation, to: labels, many: true}
    rules:
      - name: labels_of_its_org
        check: "count('labels', 'id in record.labels && org != record.project.org') == 0"
        fields: [labels]
        code: other_org
    access:
      list: "exists('memberships', 'org == record.project.org && user == auth.id')"
      view: "exists('memberships', 'org == record.project.org && user == auth.id')"
      create: "auth.role == 'admin' || exists('memberships', 'org == record.project.org && user == auth.id')"
      update: "exists('memberships', 'org == record.project.org && user == auth.id')"
      delete: "exists('memberships', 'org == record.project.org && user == auth.id')"
  notes:
    fields:
      title: {type: string, required: true}
      owner: {type: relation, to: users, default: auth.id, readonly: true}
      readers: {type: relation, to: users, many: true, allow_hidden: true}
    access:
      list: "record.owner == auth.id || auth.id in record.readers"
      view: "record.owner == auth.id || auth.id in record.readers"
      create: [admin, member]
      update: "record.owner == auth.id"
      delete: "record.owner == auth.id"
  boards:
    fields:
      name: {type: string, required: true}
      members: {type: relation, to: users, inverse: boards}
    access:
      list: "auth.role == 'admin' || auth.id in record.members"
      view: "auth.role == 'admin' || auth.id in record.members"
      create: [admin]
      update: "auth.id in record.members"
      delete: [admin]
  labels:
    fields:
      org: {type: relation, to: orgs, required: true}
      name: {type: string, required: true}
    rules:
      - name: stays_in_its_org
        on: [update]
        check: "record.org == old.org"
        fields: [org]
        code: org_fixed
    access:
      list: "auth.role == 'admin' || exists('memberships', 'org == record.org && user == auth.id')"
      view: "auth.role == 'admin' || exists('memberships', 'org == record.org && user == auth.id')"
      create: "auth.role == 'admin' || exists('memberships', 'org == record.org && user == auth.id')"
      update: "auth.role == 'admin' || exists('memberships', 'org == record.org && user == auth.id')"
      delete: "auth.role == 'admin' || exists('memberships', 'org == record.org && user == auth.id')"
`

// Records of an org reach its members only, on lists, views and writes, and follow the
// memberships as they change; an owner manages the org's memberships, a member sees their own.
func TestAccessByMembership(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, workspace)
		alice, bob, carol := b.account("member"), b.account("member"), b.account("member")
		ta, tb, tc := bearer(b.tokenFor(alice)), bearer(b.tokenFor(bob)), bearer(b.tokenFor(carol))
		orgA := b.create("orgs", map[string]any{"name": "A"})
		orgB := b.create("orgs", map[string]any{"name": "B"})
		b.create("memberships", map[string]any{"org": orgA, "user": alice, "role": "owner"})
		mBob := b.create("memberships", map[string]any{"org": orgB, "user": bob, "role": "owner"})

		require.Equal(t, []string{orgA}, ids(b.do("GET", "/api/orgs", nil, ta...)))
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/orgs/"+orgB, nil, ta...).status, "not a member of B")
		require.Empty(t, ids(b.do("GET", "/api/orgs", nil, tc...)), "carol belongs to no org")

		res := b.do("POST", "/api/projects", map[string]any{"org": orgA, "name": "a1"}, ta...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		projA := res.body["id"].(string)
		res = b.do("POST", "/api/projects", map[string]any{"org": orgB, "name": "b?"}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, "alice cannot see org B: it does not exist for her")
		require.Equal(t, "not_found", fieldCodes(res.body)["org"], string(res.raw))
		projB := b.create("projects", map[string]any{"org": orgB, "name": "b1"})
		require.Equal(t, http.StatusBadRequest, b.do("POST", "/api/projects", map[string]any{"org": orgA, "name": "c"}, tc...).status,
			"carol sees no org A either")

		taskA := b.do("POST", "/api/tasks", map[string]any{"project": projA, "title": "t"}, ta...)
		require.Equal(t, http.StatusCreated, taskA.status, string(taskA.raw))
		taskB := b.create("tasks", map[string]any{"project": projB, "title": "u"})
		require.Equal(t, []string{projA}, ids(b.do("GET", "/api/projects", nil, ta...)))
		require.Equal(t, []string{projB}, ids(b.do("GET", "/api/projects", nil, tb...)))
		require.Equal(t, []string{taskA.body["id"].(string)}, ids(b.do("GET", "/api/tasks", nil, ta...)), "tied through record.project.org")
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/tasks/"+taskB, nil, ta...).status)
		require.Equal(t, http.StatusNotFound, b.do("PATCH", "/api/tasks/"+taskB, map[string]any{"title": "x"}, ta...).status)
		require.Equal(t, http.StatusBadRequest, b.do("PATCH", "/api/tasks/"+taskA.body["id"].(string), map[string]any{"project": projB}, ta...).status,
			"a task cannot move to a project alice does not see")

		// memberships: the owner of A adds carol as a member; carol then sees A's records, her
		// own membership and not the others'; she cannot add members or delete projects.
		res = b.do("POST", "/api/memberships", map[string]any{"org": orgA, "user": carol}, ta...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		mCarol := res.body["id"].(string)
		require.Equal(t, http.StatusBadRequest, b.do("POST", "/api/memberships", map[string]any{"org": orgB, "user": carol}, ta...).status,
			"alice is no member of B: it does not exist for her")
		require.Equal(t, []string{projA}, ids(b.do("GET", "/api/projects", nil, tc...)))
		require.Equal(t, []string{mCarol}, ids(b.do("GET", "/api/memberships", nil, tc...)), "a member sees their own membership")
		require.Len(t, ids(b.do("GET", "/api/memberships", nil, ta...)), 2, "the owner sees the org's memberships")
		require.Equal(t, http.StatusForbidden, b.do("POST", "/api/memberships", map[string]any{"org": orgA, "user": bob}, tc...).status)
		// carol sees the project and the org, and may change neither: 403, not 404 (she knows they exist)
		require.Equal(t, http.StatusForbidden, b.do("DELETE", "/api/projects/"+projA, nil, tc...).status, "a member is no owner")
		require.Equal(t, http.StatusForbidden, b.do("PATCH", "/api/orgs/"+orgA, map[string]any{"name": "A2"}, tc...).status)
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/orgs/"+orgA, map[string]any{"name": "A2"}, ta...).status)

		// Removing the membership takes the org's records out of carol's reach at once.
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/memberships/"+mCarol, nil, ta...).status)
		require.Empty(t, ids(b.do("GET", "/api/projects", nil, tc...)))
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/projects/"+projA, nil, tc...).status)
		require.Equal(t, http.StatusNotFound, b.do("DELETE", "/api/memberships/"+mBob, nil, ta...).status)

		// An API key has no auth.id: a tie to auth.id holds for no record, so the rule can
		// never hold for it.
		key := b.do("POST", "/api/auth/keys", map[string]any{"name": "ci", "role": "member", "scopes": []string{"projects:read"}})
		require.Equal(t, http.StatusCreated, key.status, string(key.raw))
		res = b.do("GET", "/api/projects", nil, bearer(key.body["key"].(string))...)
		require.Equal(t, http.StatusForbidden, res.status, string(res.raw))
	})
}

// A task's labels (N:M) stay within its project's org: a member of two orgs, who may view the
// labels of both, cannot link another org's label — on create, on update, or by moving the task
// to another org's project — and a label cannot move to another org (docs/logic.md, "Links
// within a tenant"). Nothing is written by a refused request.
func TestLinksStayWithinTheirTenant(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, workspace)
		alice := b.account("member")
		ta := bearer(b.tokenFor(alice))
		orgA := b.create("orgs", map[string]any{"name": "A"})
		orgB := b.create("orgs", map[string]any{"name": "B"})
		b.create("memberships", map[string]any{"org": orgA, "user": alice})
		b.create("memberships", map[string]any{"org": orgB, "user": alice})
		projA := b.create("projects", map[string]any{"org": orgA, "name": "a"})
		projB := b.create("projects", map[string]any{"org": orgB, "name": "b"})
		labelA := b.create("labels", map[string]any{"org": orgA, "name": "urgent"})
		labelB := b.create("labels", map[string]any{"org": orgB, "name": "urgent"})

		res := b.do("POST", "/api/tasks", map[string]any{"project": projA, "title": "t", "labels": []string{labelA}}, ta...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		task := res.body["id"].(string)
		res = b.do("POST", "/api/tasks", map[string]any{"project": projA, "title": "u", "labels": []string{labelA, labelB}}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, "other_org", fieldCodes(res.body)["labels"], string(res.raw))
		require.Equal(t, []string{task}, ids(b.do("GET", "/api/tasks", nil, ta...)), "the refused task was not written")

		res = b.do("PATCH", "/api/tasks/"+task, map[string]any{"labels": []string{labelB}}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, "other_org", fieldCodes(res.body)["labels"], string(res.raw))
		res = b.do("PATCH", "/api/tasks/"+task, map[string]any{"project": projB}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, "its label is A's: %s", res.raw)
		require.Equal(t, "other_org", fieldCodes(res.body)["labels"], string(res.raw))
		res = b.do("GET", "/api/tasks/"+task, nil, ta...)
		require.Equal(t, projA, res.body["project"], string(res.raw))
		require.Equal(t, []any{labelA}, res.body["labels"], string(res.raw))
		res = b.do("PATCH", "/api/tasks/"+task, map[string]any{"project": projB, "labels": []string{labelB}}, ta...)
		require.Equal(t, http.StatusOK, res.status, "moved with B's label: %s", res.raw)

		res = b.do("PATCH", "/api/labels/"+labelB, map[string]any{"org": orgA}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, "org_fixed", fieldCodes(res.body)["org"], string(res.raw))
	})
}

// auth.id in record.readers (an N:M field) and in record.members (an N:M inverse) admit the
// accounts the record links, on reads and writes; the links are checked as the write leaves them.
func TestAccessByLinkedAccounts(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, workspace)
		alice, bob, carol := b.account("member"), b.account("member"), b.account("member")
		ta, tb, tc := bearer(b.tokenFor(alice)), bearer(b.tokenFor(bob)), bearer(b.tokenFor(carol))

		res := b.do("POST", "/api/notes", map[string]any{"title": "plan", "readers": []string{bob}}, ta...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		doc := res.body["id"].(string)
		require.Equal(t, []string{doc}, ids(b.do("GET", "/api/notes", nil, tb...)), "bob reads it")
		require.Equal(t, http.StatusOK, b.do("GET", "/api/notes/"+doc, nil, tb...).status)
		require.Empty(t, ids(b.do("GET", "/api/notes", nil, tc...)))
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/notes/"+doc, nil, tc...).status)
		require.Equal(t, http.StatusForbidden, b.do("PATCH", "/api/notes/"+doc, map[string]any{"title": "x"}, tb...).status, "a reader is no owner (403: bob reads it)")
		require.Equal(t, http.StatusNotFound, b.do("PATCH", "/api/notes/"+doc, map[string]any{"title": "x"}, tc...).status, "carol does not even see it")
		res = b.do("PATCH", "/api/notes/"+doc, map[string]any{"readers": []string{carol}}, ta...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Empty(t, ids(b.do("GET", "/api/notes", nil, tb...)), "bob is no reader any more")
		require.Equal(t, []string{doc}, ids(b.do("GET", "/api/notes?filter="+"title%20%3D%3D%20%27plan%27", nil, tc...)))

		board := b.create("boards", map[string]any{"name": "ops"})
		res = b.do("PATCH", "/api/users/"+alice, map[string]any{"boards": []string{board}})
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Equal(t, []string{board}, ids(b.do("GET", "/api/boards", nil, ta...)))
		require.Equal(t, http.StatusOK, b.do("GET", "/api/boards/"+board, nil, ta...).status)
		res = b.do("PATCH", "/api/boards/"+board, map[string]any{"name": "ops2"}, ta...)
		require.Equal(t, http.StatusOK, res.status, "the inverse's links are read as stored: %s", res.raw)
		require.Empty(t, ids(b.do("GET", "/api/boards", nil, tb...)))
		require.Equal(t, http.StatusNotFound, b.do("PATCH", "/api/boards/"+board, map[string]any{"name": "x"}, tb...).status)
	})
}

// A live-update stream carries the records the list rule admits, exists() decided as each
// event arrives.
func TestLiveUpdatesByMembership(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, workspace)
		alice := b.account("member")
		ta := bearer(b.tokenFor(alice))
		orgA := b.create("orgs", map[string]any{"name": "A"})
		orgB := b.create("orgs", map[string]any{"name": "B"})
		b.create("memberships", map[string]any{"org": orgA, "user": alice})
		s := b.stream("/api/projects/events", ta...)
		b.create("projects", map[string]any{"org": orgB, "name": "theirs"})
		mine := b.create("projects", map[string]any{"org": orgA, "name": "ours"})
		m := s.next()
		require.Equal(t, mine, m.data["record_id"], "B's project never reaches alice")
	})
}

// Access rules that use exists() or in on a link list wrongly are spec errors with the
// rule's position.
func TestMembershipRuleErrorsArePlaced(t *testing.T) {
	const list = `list: "exists('memberships', 'org == record.org && user == auth.id')"`
	for _, c := range []struct{ to, want string }{
		{`list: "exists('teams', 'org == record.org')"`, `"teams" is not a resource`},
		{`list: "exists('memberships', 'user == auth.id')"`, `must tie the other record to this one`},
		{`list: "exists('memberships', 'org == record.org && user == record.org')"`, `ties the other record to this one twice`},
		{`list: "exists('memberships', 'org == record.org || user == auth.id')"`, `names this record once, in the comparison that ties`},
		{`list: "exists('memberships', 'org == record.name')"`, `do not hold values of one type`},
		{`list: "exists('memberships', 'org == record.org && nickname == auth.id')"`, `memberships.nickname is not a field that rules can check`},
		{`list: "exists('memberships', 'org == record.org && (user == auth.id')"`, `exists() filter`},
		{`list: "exists('memberships', 'org == record.org && role != record.name')"`, `an exists() filter names this record once`},
		{`list: 'exists("memberships", "org == record.org && exists(\"orgs\", \"id == record.org\")")'`, `does not nest`},
		{`list: "exists('memberships', 'org == record.org.title')"`, `record.org.title is not a field that rules can check`},
		{`list: "auth.id in record.org"`, `in needs a list of constants or auth.roles`},
	} {
		src := replaceOnce(t, workspace, list, c.to)
		path := filepath.Join(t.TempDir(), "kiln.yaml")
		require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
		_, err := newApp(t, path)
		require.ErrorContains(t, err, c.want, c.to)
		require.ErrorContains(t, err, "kiln.yaml:40:", "the rule's position")
	}
}

// Two owners removing each other's membership at once: in any order one runs first and the
// other is then no owner (404). On PostgreSQL the rule's exists() read the membership that let
// each through without locking it, and both got 204 in most rounds, leaving the org without an
// owner (a review found); the write now holds that membership FOR SHARE.
func TestOwnersCannotRemoveEachOtherAtOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, workspace)
		for i := 0; i < 15; i++ {
			x, y := b.account("member"), b.account("member")
			tx, ty := bearer(b.tokenFor(x)), bearer(b.tokenFor(y))
			org := b.create("orgs", map[string]any{"name": "O"})
			mx := b.create("memberships", map[string]any{"org": org, "user": x, "role": "owner"})
			my := b.create("memberships", map[string]any{"org": org, "user": y, "role": "owner"})
			var wg sync.WaitGroup
			var s1, s2 int
			wg.Add(2)
			go func() { defer wg.Done(); s1 = b.do("DELETE", "/api/memberships/"+my, nil, tx...).status }()
			go func() { defer wg.Done(); s2 = b.do("DELETE", "/api/memberships/"+mx, nil, ty...).status }()
			wg.Wait()
			require.ElementsMatch(t, []int{http.StatusNoContent, http.StatusNotFound}, []int{s1, s2}, "round %d", i)
		}
	})
}
