package rest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/service"
)

// If-Match is a list (RFC 9110 §13.1.1), in one header line or several: each strong tag this
// API could have issued becomes one match of the list, in order; weak and foreign tags match
// nothing, and a list of only those is refused at once.
func TestIfMatchReadsAListOfETags(t *testing.T) {
	t.Parallel()
	read := func(lines ...string) (service.WriteOpts, error) {
		r, err := http.NewRequest(http.MethodPatch, "/api/x/1", nil)
		require.NoError(t, err)
		for _, l := range lines {
			r.Header.Add("If-Match", l)
		}
		return ifMatch(r)
	}
	chain := func(m *service.Match) []service.Match {
		var out []service.Match
		for ; m != nil; m = m.Or {
			out = append(out, service.Match{Version: m.Version, State: m.State})
		}
		return out
	}
	for _, c := range []struct {
		lines []string
		want  []service.Match
	}{
		{[]string{`"3"`}, []service.Match{{Version: 3}}},
		{[]string{`"3-ab.ff", "4"`}, []service.Match{{Version: 3, State: "ab"}, {Version: 4}}},
		{[]string{`W/"2", "x", "5"`}, []service.Match{{Version: 5}}},
		{[]string{`"7"`, ` "8-c" `}, []service.Match{{Version: 7}, {Version: 8, State: "c"}}},
	} {
		opts, err := read(c.lines...)
		require.NoError(t, err, "%q", c.lines)
		require.Equal(t, c.want, chain(opts.IfMatch), "%q", c.lines)
	}
	for _, lines := range [][]string{{"*"}, {}, {" "}} {
		opts, err := read(lines...)
		require.NoError(t, err)
		require.Nil(t, opts.IfMatch, "%q: no precondition", lines)
	}
	for _, lines := range [][]string{{`W/"2"`}, {`"0", "abc"`}, {`3`}, {`""`}, {`,`}} {
		_, err := read(lines...)
		require.Error(t, err, "%q: nothing in it could match", lines)
	}
	long := strings.Repeat(`"1", `, maxIfMatchTags) + `"2"`
	_, err := read(long)
	var se *service.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, service.CodeMalformed, se.Code, "a list of more than maxIfMatchTags is refused, not read")
	opts, err := read(strings.Repeat(`"1", `, maxIfMatchTags-1) + `"2"`)
	require.NoError(t, err)
	require.Len(t, chain(opts.IfMatch), maxIfMatchTags)
}
