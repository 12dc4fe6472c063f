package logic

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/spec"
)

func compileFields(t *testing.T, fields string) (*Logic, error) {
	t.Helper()
	src := "resources:\n  things:\n    fields:\n" + fields
	s, err := spec.Parse("k.yaml", []byte(src), spec.ParseOpts{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return Compile(s)
}

// Computed fields that read each other are a spec error naming the cycle at its first field:
// they validated, then every create was a 400 (a new user's trial).
func TestComputedFieldsReadingEachOtherAreRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, fields, want string }{
		{name: "Two", fields: "      c: {type: integer, compute: 'record.d + 1'}\n      d: {type: integer, compute: 'record.c + 1'}\n",
			want: "k.yaml:4:7: computed fields c → d → c read each other: none of them can be computed first"},
		{name: "ThreeFoundFromOutside", fields: "      a: {type: integer, compute: 'record.e * 2'}\n" +
			"      c: {type: integer, compute: 'has(record.d) ? record.d : 0'}\n" +
			"      d: {type: integer, compute: 'record.e + 1'}\n" +
			"      e: {type: integer, compute: \"count('things', 'c == record.c')\"}\n",
			want: "k.yaml:5:7: computed fields c → d → e → c read each other: none of them can be computed first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := compileFields(t, tc.fields)
			require.EqualError(t, err, tc.want)
		})
	}
}

// A computed field reading one declared after it is computed after it, not from nothing; one
// reading itself reads the value stored before the write (none on create).
func TestComputedFieldsRunAfterWhatTheyRead(t *testing.T) {
	t.Parallel()
	l, err := compileFields(t, "      total: {type: integer, compute: 'record.double + 1'}\n"+
		"      double: {type: integer, compute: 'record.qty * 2'}\n"+
		"      qty: integer\n"+
		"      writes: {type: integer, compute: 'has(record.writes) ? record.writes + 1 : 1'}\n")
	require.NoError(t, err)
	rec := &Record{Resource: "things", Fields: map[string]any{"qty": int64(3)}}
	vars := &Vars{Record: rec, Now: time.Now(), Operation: "create"}
	got, err := l.Resource("things").Compute(context.Background(), &fakeReader{}, vars, map[string]bool{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"double": int64(6), "total": int64(7), "writes": int64(1)}, got)

	vars.Operation = "update" // the record as stored, with qty changed
	rec.Fields["qty"] = int64(4)
	got, err = l.Resource("things").Compute(context.Background(), &fakeReader{}, vars, map[string]bool{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"double": int64(8), "total": int64(9), "writes": int64(2)}, got)
}
