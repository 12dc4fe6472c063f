package derive_test

import (
	"testing"

	"github.com/kiln-dev/kiln/internal/testdb"
	"github.com/kiln-dev/kiln/kilntest"
)

// kiln test's in-memory oracle decides exists() and auth.id in <links> as the server does:
// a member's pages of an org's projects and tasks (through the project), of memberships (their
// own, and all of an org they own) and of notes they read match the rules evaluated in memory,
// with records inside and outside the member's reach.
func TestMembershipRulesMatchInMemory(t *testing.T) {
	testdb.EachDialectEnv(t, func(t *testing.T) {
		b := kilntest.New(t, "testdata/workspace.yaml")
		b.RunYAML(t, "membership.yaml", membershipCases)
	})
}

const membershipCases = `
endpoint: POST /api/orgs
as: admin
defaults:
  request:
    headers: {Authorization: "Bearer {valid_token}", Content-Type: application/json}
test_cases:
  me:
    as: member
    request: {method: GET, path: /api/auth/me}
    expected: {status: 200}
  other:
    as: member:other
    request: {method: GET, path: /api/auth/me}
    expected: {status: 200}
  org_a:
    request: {body: {name: "A"}}
    expected: {status: 201}
  org_b:
    request: {body: {name: "B"}}
    expected: {status: 201}
  member_of_a:
    request: {path: /api/memberships, body: {org: "{org_a.response.id}", user: "{me.response.id}", role: owner}}
    expected: {status: 201}
  other_in_a:
    request: {path: /api/memberships, body: {org: "{org_a.response.id}", user: "{other.response.id}"}}
    expected: {status: 201}
  other_in_b:
    request: {path: /api/memberships, body: {org: "{org_b.response.id}", user: "{other.response.id}", role: owner}}
    expected: {status: 201}
  project_a:
    request: {path: /api/projects, body: {org: "{org_a.response.id}", name: "a"}}
    expected: {status: 201}
  project_b:
    request: {path: /api/projects, body: {org: "{org_b.response.id}", name: "b"}}
    expected: {status: 201}
  task_a:
    request: {path: /api/tasks, body: {project: "{project_a.response.id}", title: "a"}}
    expected: {status: 201}
  task_b:
    request: {path: /api/tasks, body: {project: "{project_b.response.id}", title: "b"}}
    expected: {status: 201}
  note_read:
    as: member:other
    request: {path: /api/notes, body: {title: "shared", readers: ["{me.response.id}"]}}
    expected: {status: 201}
  note_unread:
    as: member:other
    request: {path: /api/notes, body: {title: "private"}}
    expected: {status: 201}
  projects_as_member:
    as: member
    request: {method: GET, path: "/api/projects?limit=1&count=true"}
    expected:
      status: 200
      response_contains: {total: 1}
      pages: {each_row_once: true, match_in_memory: true}
  tasks_as_member:
    as: member
    request: {method: GET, path: "/api/tasks?limit=1&count=true"}
    expected:
      status: 200
      response_contains: {total: 1}
      pages: {each_row_once: true, match_in_memory: true}
  memberships_as_owner:
    as: member
    request: {method: GET, path: "/api/memberships?limit=1&count=true"}
    expected:
      status: 200
      response_contains: {total: 2}
      pages: {each_row_once: true, match_in_memory: true}
  memberships_as_other:
    as: member:other
    request: {method: GET, path: "/api/memberships?limit=1&count=true"}
    expected:
      status: 200
      response_contains: {total: 2}
      pages: {each_row_once: true, match_in_memory: true}
  orgs_as_other:
    as: member:other
    request: {method: GET, path: "/api/orgs?limit=1&count=true"}
    expected:
      status: 200
      response_contains: {total: 2}
      pages: {each_row_once: true, match_in_memory: true}
  notes_as_reader:
    as: member
    request: {method: GET, path: "/api/notes?limit=1&count=true"}
    expected:
      status: 200
      response_contains: {total: 1}
      pages: {each_row_once: true, match_in_memory: true}
`
