package logic

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

// hintsLogic is valid as it stands; each case of TestUnknownFieldIsHintedWithTheFieldMeant
// misspells one field an expression selects.
const hintsLogic = `resources:
  jobs:
    fields:
      title: string
      applied: {type: integer, default: 0}
      applications: {type: relation, to: applications, inverse: job}
    effects:
      - name: mark
        on: [update]
        each: applications
        update: applications
        id: item.id
        set: {note: "item.candidate"}
  applications:
    fields:
      job: {type: relation, to: jobs}
      candidate: string
      note: string
    rules:
      - {name: named, check: "record.candidate != ''"}
      - {name: kept, on: [update], check: "old.candidate == record.candidate"}
    effects:
      - name: count
        on: [create]
        update: jobs
        id: record.job
        set: {applied: "target.applied + 1"}
    actions:
      rename:
        access: public
        input: {name: string}
        steps:
          - set: {candidate: "input.name"}
    triggers:
      - name: noted
        on: [update]
        when: "has(new.candidate)"
        handler: noted
`

// A field an expression selects from record, old, new, item, target, input or a related
// record that its resource (or the action's input) does not have is named with the field it
// looks like.
func TestUnknownFieldIsHintedWithTheFieldMeant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, old, new, want string }{
		{name: "TriggerNew", old: "has(new.candidate)", new: "has(new.candidat)",
			want: `k.yaml:37:15: trigger noted when: at 1:4: undefined field 'candidat' (did you mean "candidate"?)`},
		{name: "Record", old: `"record.candidate != ''"`, new: `"record.candidat != ''"`,
			want: `k.yaml:20:30: rule named: at 1:7: undefined field 'candidat' (did you mean "candidate"?)`},
		{name: "Old", old: `"old.candidate ==`, new: `"old.candidte ==`,
			want: `k.yaml:21:43: rule kept: at 1:4: undefined field 'candidte' (did you mean "candidate"?)`},
		{name: "Item", old: `"item.candidate"`, new: `"item.candidates"`,
			want: `k.yaml:13:21: effect mark set.note: at 1:5: undefined field 'candidates' (did you mean "candidate"?)`},
		{name: "Target", old: `"target.applied + 1"`, new: `"target.aplied + 1"`,
			want: `k.yaml:27:24: effect count set.applied: at 1:7: undefined field 'aplied' (did you mean "applied"?)`},
		{name: "Input", old: `"input.name"`, new: `"input.nme"`,
			want: `k.yaml:33:30: action rename set.candidate: at 1:6: undefined field 'nme' (did you mean "name"?)`},
		{name: "Related", old: `"record.candidate != ''"`, new: `"record.job.titel != ''"`,
			want: `k.yaml:20:30: rule named: at 1:11: undefined field 'titel' (did you mean "title"?)`},
		{name: "Get", old: `"record.candidate != ''"`, new: `"get('jobs', record.job).titl != ''"`,
			want: `k.yaml:20:30: rule named: at 1:24: undefined field 'titl' (did you mean "title"?)`},
		{name: "NothingClose", old: `"record.candidate != ''"`, new: `"record.zzz != ''"`,
			want: `k.yaml:20:30: rule named: at 1:7: undefined field 'zzz'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(hintsLogic, tc.old, tc.new, 1)
			require.NotEqual(t, hintsLogic, src)
			s, err := spec.Parse("k.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
			require.NoError(t, err)
			_, err = Compile(s)
			require.EqualError(t, err, tc.want)
		})
	}
	s, err := spec.Parse("k.yaml", []byte(hintsLogic), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	_, err = Compile(s)
	require.NoError(t, err)
}
