package derive

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/selftest"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Every file of a run shares one database, so no two creates that expect 201, in one file or
// in two, may send the same combination of values under a unique index: each would answer 409
// and fail the cases after it (a booking system's (room, day) did, and (day, slot) failed 38
// of a file's cases on a correct server). The cases that mean to clash stay.
func TestUniqueIndexCombinationsDifferAcrossTheSuite(t *testing.T) {
	t.Parallel()
	s, err := spec.Load("testdata/bookings.yaml", spec.ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	suite, err := Generate(s)
	require.NoError(t, err)
	require.Empty(t, suite.Gaps)
	requireDistinctCombinations(t, s, suite)
	names := caseNames(t, suite)
	for _, res := range []string{"bookings", "shifts", "desks", "seats"} {
		require.Contains(t, names[res+".create.test.yaml"], "unique_index_1_taken")
		require.Contains(t, names[res+".update.test.yaml"], "unique_index_1_taken")
	}
}

// requireDistinctCombinations fails when two creates that expect 201, in one file or in two,
// send the same combination of values under a unique index of their resource.
func requireDistinctCombinations(t *testing.T, s *spec.Spec, suite *Suite) {
	t.Helper()
	seen := map[string]string{}
	for _, file := range suite.Files {
		tf, err := selftest.ParseFile(file.Name, file.Data)
		require.NoError(t, err)
		for _, c := range tf.Cases {
			r := s.Resource(strings.TrimPrefix(c.Request.Path, s.Server.BasePath+"/"))
			body, ok := c.Request.Body.(map[string]any)
			if c.Request.Method != "POST" || c.Expected.Status != 201 || r == nil || !ok {
				continue
			}
			for i, idx := range r.Indexes {
				if !idx.Unique {
					continue
				}
				key := fmt.Sprintf("%s index %d: %s", r.Name, i+1, combination(r, idx, body, file.Name, firstOf(c.As, tf.As)))
				if strings.Contains(key, "{random:") {
					continue // a random value is never handed out twice in a run
				}
				require.Empty(t, seen[key], "%s and %s › %s both send %s", seen[key], file.Name, c.Name, key)
				seen[key] = file.Name + " › " + c.Name
			}
		}
	}
}

// combination is what a create sends under idx as the run sees it: {unique} and references to
// records a file made differ per file, a field left out takes its default (for auth.id, the
// creator's account), literal values are the same in every file.
func combination(r *spec.Resource, idx *spec.Index, body map[string]any, file, role string) string {
	var parts []string
	for _, name := range idx.Fields {
		v, sent := body[name]
		text := fmt.Sprint(v)
		switch {
		case !sent && r.Field(name).Default == "auth.id":
			text = "account of " + role
		case !sent:
			text = "default"
		case strings.Contains(text, "{unique}") || strings.Contains(text, ".response."):
			text = file + " " + text
		}
		parts = append(parts, name+"="+text)
	}
	return strings.Join(parts, ", ")
}

func firstOf(s ...string) string {
	i := slices.IndexFunc(s, func(v string) bool { return v != "" })
	if i < 0 {
		return ""
	}
	return s[i]
}

// A unique index whose fields cannot take a new value in every record (an enum and a
// boolean) admits too few records for the suite: the files that would make flags are
// reported as gaps, not written to fail on a correct server. Notes link a flag optionally:
// they are derived, the link left out.
func TestUniqueIndexesOfFewValuesAreGaps(t *testing.T) {
	t.Parallel()
	suite := generate(t, "testdata/flags.yaml")
	files := fileTexts(suite)
	require.Equal(t, []string{"notes.create.test.yaml", "notes.delete.test.yaml", "notes.list.test.yaml", "notes.update.test.yaml",
		"notes.view.test.yaml"}, slices.Sorted(maps.Keys(files)), "no file of flags")
	require.Contains(t, suite.Gaps, "flags create: the unique index on region, active holds no field that can "+
		"differ in every record a run makes (enums, booleans, narrow numbers, fields bodies do not set or rules read), "+
		"so the files' records would clash")
	require.Len(t, suite.Gaps, 5, "flags' five files")
	require.NotContains(t, files["notes.create.test.yaml"], "setup_flags")
	require.NotContains(t, files["notes.create.test.yaml"], "flag: \"{")
}
