package derive

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A record that refers to a target both directly and through another target (a ticket's event,
// and its ticket type's event) refers to the same one, as the spec's rules may demand: from its
// second record on, a file gave each relation a target of its own, so a ticket's type belonged
// to another event and the server rightly refused the create (409 wrong_event) where the file
// expected 201. Found with testdata/tickets.yaml.
func TestTargetsShareWhatTheyBothReferTo(t *testing.T) {
	t.Parallel()
	suite := generate(t, writeSpec(t, `roles: [admin, member]
auth: {account: people, signup: open, default_role: member}
resources:
  people:
    fields: {name: string}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  events:
    fields:
      title: {type: string, required: true}
    access: {list: [admin, member], view: [admin, member], create: [admin], update: [admin], delete: [admin]}
  kinds:
    fields:
      event: {type: relation, to: events, required: true}
      name: {type: string, required: true}
      quota: {type: integer, required: true, min: 1, example: 100}
    indexes:
      - {fields: [event, name], unique: true}
    access: {list: [admin, member], view: [admin, member], create: [admin], update: [admin], delete: [admin]}
  tickets:
    fields:
      event: {type: relation, to: events, required: true}
      kind: {type: relation, to: kinds, required: true}
      seat: {type: string, required: true}
    indexes:
      - {fields: [event, seat], unique: true}
    access: {list: [admin, member], view: [admin, member], create: [admin, member], update: [admin], delete: [admin]}
    rules:
      - name: kind_of_event
        check: "get('kinds', record.kind).event == record.event"
        code: wrong_event
        conflict: true
        message: the kind belongs to another event
      - name: within_quota
        on: [create]
        check: "count('tickets', 'kind == record.kind') < get('kinds', record.kind).quota"
        code: quota_reached
        conflict: true
        message: sold out
`))
	checked := 0
	for _, f := range suite.Files {
		if !strings.HasPrefix(f.Name, "tickets.") {
			continue
		}
		cases := casesOf(t, suite, f.Name)
		for name, c := range cases {
			body, ok := c.Request.Body.(map[string]any)
			if !ok || c.Expected.Status != 201 || c.Request.Path != "/api/tickets" {
				continue
			}
			kind := cases[refName(t, body["kind"])]
			require.NotNil(t, kind, "%s › %s: the kind it refers to is made in the file", f.Name, name)
			require.Equal(t, body["event"], kind.Request.Body.(map[string]any)["event"],
				"%s › %s: the ticket and its kind refer to one event", f.Name, name)
			checked++
		}
	}
	require.Greater(t, checked, 5, "the files create tickets beyond their first")
}

// refName is the case a "{name.response.id}" placeholder reads.
func refName(t *testing.T, ref any) string {
	t.Helper()
	s, ok := ref.(string)
	require.True(t, ok, "a reference: %v", ref)
	return strings.TrimSuffix(strings.TrimPrefix(s, "{"), ".response.id}")
}

// The same holds when the record's direct relation is under no unique index or rule about
// stored state, so that it kept the file's shared setup target while the target it refers to
// through (its enrollment, unique per record) got one of its own: from the second record on, a
// review named the first course and an enrollment of another, and a rule holding them equal
// refused every such create (400 wrong_course where the file expected 201). Found with
// testdata/academy.yaml.
func TestSharedTargetFollowsTheTargetMadeForTheRecord(t *testing.T) {
	t.Parallel()
	suite := generate(t, writeSpec(t, reviewsOfEnrollments))
	checked := 0
	for _, f := range suite.Files {
		if !strings.HasPrefix(f.Name, "reviews.") {
			continue
		}
		cases := casesOf(t, suite, f.Name)
		for name, c := range cases {
			body, ok := c.Request.Body.(map[string]any)
			if !ok || c.Expected.Status != 201 || c.Request.Path != "/api/reviews" {
				continue
			}
			enrollment := cases[refName(t, body["enrollment"])]
			require.NotNil(t, enrollment, "%s › %s: the enrollment it refers to is made in the file", f.Name, name)
			require.Equal(t, body["course"], enrollment.Request.Body.(map[string]any)["course"],
				"%s › %s: the review and its enrollment refer to one course", f.Name, name)
			checked++
		}
	}
	require.Greater(t, checked, 5, "the files create reviews beyond their first")
}

// reviewsOfEnrollments: a review refers to its course directly and through its enrollment.
const reviewsOfEnrollments = `roles: [admin, student]
auth: {account: people, signup: open, default_role: student}
resources:
  people:
    fields: {name: string}
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  courses:
    fields:
      title: {type: string, required: true}
    access: {list: public, view: public, create: [admin], update: [admin], delete: [admin]}
  enrollments:
    fields:
      course: {type: relation, to: courses, required: true, unique: true}
      note: string
    access: {list: public, view: public, create: [admin], update: [admin], delete: [admin]}
  reviews:
    fields:
      enrollment: {type: relation, to: enrollments, required: true, unique: true}
      course: {type: relation, to: courses, required: true}
      rating: {type: integer, required: true, min: 1, max: 5}
    access: {list: public, view: public, create: [admin, student], update: [admin], delete: [admin]}
    rules:
      - name: same_course
        check: "record.enrollment.course == record.course"
        fields: [course]
        code: wrong_course
        message: a review is of its enrollment's course
`

// On update, a unique relation's taken case gave the record the second record's enrollment
// alone: the record kept its own course, the rule holding the two equal refused the PATCH
// (400 wrong_course) before the unique index could (409 conflict expected). The case now
// sends the second record's course with it. Found with testdata/academy.yaml.
func TestTakenRelationOnUpdateCarriesWhatItsTargetShares(t *testing.T) {
	t.Parallel()
	suite := generate(t, writeSpec(t, reviewsOfEnrollments))
	c := casesOf(t, suite, "reviews.update.test.yaml")["enrollment_taken"]
	require.NotNil(t, c, "the update file has the taken case")
	body, ok := c.Request.Body.(map[string]any)
	require.True(t, ok)
	require.Equal(t, "{second_record.response.enrollment}", body["enrollment"])
	require.Equal(t, "{second_record.response.course}", body["course"], "the enrollment's course goes with it")
	require.Equal(t, 409, c.Expected.Status)
}
