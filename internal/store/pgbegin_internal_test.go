package store

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/require"
)

func backendBytes(t *testing.T, msgs ...pgproto3.BackendMessage) []byte {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		var err error
		b, err = m.Encode(b)
		require.NoError(t, err)
	}
	return b
}

// The filter drops BEGIN's three answers and nothing else, wherever the reads split the
// stream; asynchronous messages before them pass; after an error everything passes.
func TestAnswerFilterDropsOnlyBeginsAnswers(t *testing.T) {
	answers := backendBytes(t, &pgproto3.ParseComplete{}, &pgproto3.BindComplete{}, &pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
	rest := backendBytes(t, &pgproto3.ParseComplete{}, &pgproto3.BindComplete{}, &pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'T'})
	notice := backendBytes(t, &pgproto3.NoticeResponse{Severity: "WARNING", Message: "hello"})
	failure := backendBytes(t, &pgproto3.ErrorResponse{Severity: "ERROR", Code: "25P02", Message: "aborted"}, &pgproto3.ReadyForQuery{TxStatus: 'I'})
	cases := []struct {
		name   string
		stream []byte
		want   []byte
	}{
		{"answers then the statement's", append(append([]byte{}, answers...), rest...), rest},
		{"a notice first", append(append(append([]byte{}, notice...), answers...), rest...), append(append([]byte{}, notice...), rest...)},
		{"BEGIN failed", append(append([]byte{}, answers[:5]...), failure...), failure},
		{"BEGIN failed at once", failure, failure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for size := 1; size <= len(c.stream); size++ { // every read size, so every split point
				f := answerFilter{left: len(beginAnswers)}
				var got []byte
				for in := c.stream; len(in) > 0; {
					k := min(size, len(in))
					f.feed(in[:k])
					in = in[k:]
					got, f.out = append(got, f.out...), f.out[:0]
				}
				require.Truef(t, bytes.Equal(c.want, got), "reads of %d bytes: got %q, want %q", size, got, c.want)
				require.False(t, f.active(), "nothing left to drop once the stream is through")
			}
		})
	}
}

func TestBeginMessagesAreParseBindExecute(t *testing.T) {
	b := pgproto3.NewBackend(bytes.NewReader(beginMessages), nil)
	var types []string
	for range 3 {
		m, err := b.Receive()
		require.NoError(t, err)
		switch m := m.(type) {
		case *pgproto3.Parse:
			require.Equal(t, "begin", m.Query)
			require.Empty(t, m.Name)
			types = append(types, "parse")
		case *pgproto3.Bind:
			require.Empty(t, m.DestinationPortal)
			require.Empty(t, m.PreparedStatement)
			types = append(types, "bind")
		case *pgproto3.Execute:
			types = append(types, "execute")
		}
	}
	require.Equal(t, []string{"parse", "bind", "execute"}, types, "no Sync: BEGIN and the statement are one sequence")
}
