package store

import (
	"bytes"
	"io"
	"net"
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

// Over a real byte stream: a queued BEGIN goes out ahead of the next extended-protocol write
// (and a simple-protocol query is refused meanwhile); the reader gets the stream without
// BEGIN's answers however the peer splits it, including more than one read's worth at once.
func TestBeginConnWritesAndReads(t *testing.T) {
	mine, peer := net.Pipe()
	defer peer.Close()
	c := newBeginConn(mine)
	defer c.Close()

	c.queue()
	_, err := c.Write([]byte("Q\x00\x00\x00\x0aselect"))
	require.ErrorIs(t, err, errSimpleInTx)
	stmt := []byte("B\x00\x00\x00\x04")
	go func() { _, _ = c.Write(stmt) }()
	got := make([]byte, len(beginMessages)+len(stmt))
	_, err = io.ReadFull(peer, got)
	require.NoError(t, err)
	require.Equal(t, append(append([]byte{}, beginMessages...), stmt...), got)

	answers := backendBytes(t, &pgproto3.ParseComplete{}, &pgproto3.BindComplete{}, &pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
	rest := backendBytes(t, &pgproto3.BindComplete{}, &pgproto3.DataRow{Values: [][]byte{bytes.Repeat([]byte("r"), 300)}},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")}, &pgproto3.ReadyForQuery{TxStatus: 'T'})
	stream := append(append([]byte{}, answers...), rest...)
	go func() {
		for i := 0; i < len(stream); i += 7 {
			_, _ = peer.Write(stream[i:min(i+7, len(stream))])
		}
	}()
	var read []byte
	buf := make([]byte, 3) // smaller than a header: bytes wait in the filter for the next read
	for len(read) < len(rest) {
		n, err := c.Read(buf)
		require.NoError(t, err)
		read = append(read, buf[:n]...)
	}
	require.Equal(t, rest, read)

	q := []byte("Q\x00\x00\x00\x0aselect")
	go func() { _, _ = io.ReadFull(peer, make([]byte, len(q))) }()
	_, err = c.Write(q) // nothing queued any more: a simple query passes
	require.NoError(t, err)
}
