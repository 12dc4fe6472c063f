package kiln_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln"
)

// notebook: access rules that follow to-one relations, one hop (record.loan.member) and two
// (record.note.loan.member), on reads (SQL) and writes (checked in the transaction).
const notebook = `roles: [admin, member]
auth:
  account: members
  signup: open
  default_role: member
  admin_roles: [admin]
resources:
  members:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  loans:
    fields:
      member: {type: relation, to: members, required: true}
      title: string
      open: {type: boolean, default: true}
    indexes:
      - fields: [member]
    access:
      list: "auth.role == 'admin' || record.member == auth.id"
      view: "auth.role == 'admin' || record.member == auth.id"
      create: [admin]
      update: [admin]
      delete: [admin]
  notes:
    fields:
      loan: {type: relation, to: loans, required: true}
      text: string
    access:
      list: "auth.role == 'admin' || record.loan.member == auth.id"
      view: "auth.role == 'admin' || record.loan.member == auth.id && record.loan.open"
      create: "record.loan.member == auth.id"
      update: "record.loan.member == auth.id && record.loan.open"
      delete: "record.loan.member == auth.id"
  replies:
    fields:
      note: {type: relation, to: notes, required: true}
      text: string
    rules:
      - name: loan_still_open
        on: [create]
        check: "record.note.loan.open"
        code: loan_closed
        conflict: true
        message: the loan is closed
      - name: not_the_note_itself
        check: "!has(record.text) || record.text != record.note.text"
        fields: [text]
        code: repeats_note
        message: must not repeat the note
    access:
      list: "record.note.loan.member == auth.id"
      view: "record.note.loan.member == auth.id"
      create: "auth.role == 'admin' || record.note.loan.member == auth.id"
      update: [admin]
      delete: [admin]
`

func TestAccessRulesFollowRelations(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, notebook)
		alice, bob := b.account("member"), b.account("member")
		ta, tb := bearer(b.tokenFor(alice)), bearer(b.tokenFor(bob))
		loanA := b.create("loans", map[string]any{"member": alice, "title": "A"})
		loanB := b.create("loans", map[string]any{"member": bob, "title": "B"})

		res := b.do("POST", "/api/notes", map[string]any{"loan": loanA, "text": "mine"}, ta...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		noteA := res.body["id"].(string)
		res = b.do("POST", "/api/notes", map[string]any{"loan": loanB, "text": "not mine"}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, "a loan alice cannot see does not exist for her")
		require.Equal(t, "not_found", fieldCodes(res.body)["loan"], string(res.raw))
		require.Equal(t, http.StatusForbidden, b.do("POST", "/api/notes", map[string]any{"loan": loanB, "text": "admin's"}).status,
			"the admin sees the loan but the create rule has no admin branch")
		res = b.do("POST", "/api/notes", map[string]any{"loan": loanB, "text": "bob's"}, tb...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		noteB := res.body["id"].(string)
		closed := b.create("loans", map[string]any{"member": alice, "title": "closed", "open": false})
		require.Equal(t, http.StatusForbidden, b.do("PATCH", "/api/notes/"+noteA, map[string]any{"loan": closed}, ta...).status,
			"the update rule checks the new loan: it is alice's but closed")
		require.Equal(t, http.StatusBadRequest, b.do("PATCH", "/api/notes/"+noteA, map[string]any{"loan": loanB}, ta...).status,
			"bob's loan does not exist for alice")
		require.Equal(t, http.StatusNotFound, b.do("PATCH", "/api/notes/"+noteB, map[string]any{"text": "x"}, ta...).status)

		require.Equal(t, []string{noteA}, ids(b.do("GET", "/api/notes", nil, ta...)))
		require.Equal(t, []string{noteB}, ids(b.do("GET", "/api/notes", nil, tb...)))
		require.Len(t, ids(b.do("GET", "/api/notes", nil)), 2, "the admin branch")
		require.Equal(t, http.StatusOK, b.do("GET", "/api/notes/"+noteA, nil, ta...).status)
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/notes/"+noteB, nil, ta...).status)

		res = b.do("POST", "/api/replies", map[string]any{"note": noteA}, ta...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		require.Equal(t, http.StatusBadRequest, b.do("POST", "/api/replies", map[string]any{"note": noteB}, ta...).status)
		require.Equal(t, []string{res.body["id"].(string)}, ids(b.do("GET", "/api/replies", nil, ta...)))
		require.Empty(t, ids(b.do("GET", "/api/replies", nil, tb...)))
		res = b.do("POST", "/api/replies", map[string]any{"note": noteA, "text": "mine"}, ta...)
		require.Equal(t, http.StatusBadRequest, res.status, string(res.raw))
		require.Equal(t, "repeats_note", fieldCodes(res.body)["text"], "a validation rule follows record.note")
		require.Equal(t, http.StatusOK, b.do("PATCH", "/api/loans/"+loanA, map[string]any{"open": false}).status)
		res = b.do("POST", "/api/replies", map[string]any{"note": noteA}) // the admin still sees the note
		require.Equal(t, http.StatusConflict, res.status, string(res.raw))
		require.Equal(t, "loan_closed", res.body["error"], "a rule follows record.note.loan, two hops")
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/notes/"+noteA, nil, ta...).status, "view also needs the loan open")
		require.Equal(t, []string{noteA}, ids(b.do("GET", "/api/notes?filter=text.startsWith('m')", nil, ta...)))
		require.Equal(t, http.StatusNotFound, b.do("DELETE", "/api/notes/"+noteB, nil, ta...).status)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/notes/"+noteB, nil, tb...).status)
	})
}

// A rule that follows something that is not a to-one relation, or names a field the related
// resource lacks, is a spec error with its position.
func TestRelationRuleErrorsArePlaced(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{`list: "auth.role == 'admin' || record.loan.member == auth.id"`, `list: "record.loan.owner == auth.id"`,
			`record.loan.owner is not a field that rules can check`},
		{`list: "auth.role == 'admin' || record.loan.member == auth.id"`, `list: "record.text.member == auth.id"`,
			`record.text is not a to-one relation that rules can follow`},
	} {
		src := replaceOnce(t, notebook, c.from, c.to)
		path := filepath.Join(t.TempDir(), "kiln.yaml")
		require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
		_, err := newApp(t, path)
		require.Error(t, err)
		require.Contains(t, err.Error(), c.want)
		require.Regexp(t, `kiln.yaml:\d+:\d+: `, err.Error())
	}
}

func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(s, from), from)
	return strings.Replace(s, from, to, 1)
}

// newApp loads a spec as kiln serve would.
func newApp(t *testing.T, specPath string) (*kiln.App, error) {
	dir := t.TempDir()
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: specPath, DataDir: dir,
		MigrationsDir: filepath.Join(dir, "m"), Dev: true, LookupEnv: noEnv, AuthSecret: testSecret})
	if err == nil {
		t.Cleanup(func() { _ = app.Close() })
	}
	return app, err
}

// A trigger, schedule or incoming webhook naming a Go handler this process does not register
// is refused before the database is opened, at its position: kiln serve --dev applied its
// migration first and then stopped with no position (a trial found it). A process that runs no
// workers starts, and refuses RunWorkers.
func TestUnregisteredGoHandlersAreRefusedBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	src := `resources:
  notes:
    fields:
      title: {type: string, required: true}
    access: {list: public, view: public, create: public, update: public, delete: public}
    triggers:
      - name: sync
        on: [create]
        handler: crm_sync
schedules:
  - name: nightly
    cron: "0 3 * * *"
    handler: nightly_report
`
	path := filepath.Join(t.TempDir(), "kiln.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	dir := t.TempDir()
	_, err := kiln.New(context.Background(), kiln.Config{SpecPath: path, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, LookupEnv: noEnv, AuthSecret: testSecret})
	require.ErrorContains(t, err, "kiln.yaml:9:18: trigger sync of notes names handler crm_sync, a Go function this process does not register")
	require.ErrorContains(t, err, "kiln.yaml:13:14: schedule nightly names handler nightly_report")
	entries, rerr := os.ReadDir(dir)
	require.NoError(t, rerr)
	require.Empty(t, entries, "no database, no migration")

	// a process without workers (kiln users, seed, test) starts, but will not work those jobs
	app, err := kiln.New(context.Background(), kiln.Config{SpecPath: path, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, LookupEnv: noEnv, AuthSecret: testSecret, NoWorkers: true})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	require.ErrorContains(t, app.RunWorkers(ctx), "names handler crm_sync")
	require.NoError(t, app.Close())

	x := &kiln.Extensions{}
	x.Job("crm_sync", func(context.Context, kiln.Job) error { return nil })
	x.Scheduled("nightly_report", func(context.Context, kiln.ScheduleRun) error { return nil })
	app, err = kiln.New(context.Background(), kiln.Config{SpecPath: path, DataDir: dir, MigrationsDir: filepath.Join(dir, "m"),
		Dev: true, LookupEnv: noEnv, AuthSecret: testSecret, Extensions: x})
	require.NoError(t, err)
	require.NoError(t, app.Close())
}
