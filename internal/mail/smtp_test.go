package mail

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// smtpPeer is a scripted SMTP server for one connection: it answers the usual commands with
// 250 and the end of the message's data with dataAnswer ("" hangs up instead); after the data
// it hangs up on the next command when hangUpAfter is set. It reports the messages it took.
type smtpPeer struct {
	addr        string
	dataAnswer  string
	hangUpAfter bool
	took        chan string
}

func startSMTPPeer(t *testing.T, dataAnswer string, hangUpAfter bool) *smtpPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	p := &smtpPeer{addr: ln.Addr().String(), dataAnswer: dataAnswer, hangUpAfter: hangUpAfter, took: make(chan string, 4)}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		p.converse(bufio.NewReader(conn), conn)
	}()
	return p
}

func (p *smtpPeer) converse(r *bufio.Reader, w net.Conn) {
	say := func(s string) { _, _ = w.Write([]byte(s + "\r\n")) }
	say("220 peer ESMTP")
	delivered := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case delivered && p.hangUpAfter:
			return
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-peer")
			say("250 8BITMIME")
		case cmd == "DATA":
			say("354 go on")
			body := p.readData(r)
			if p.dataAnswer == "" {
				return
			}
			p.took <- body
			delivered = true
			say(p.dataAnswer)
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (p *smtpPeer) readData(r *bufio.Reader) string {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil || line == ".\r\n" {
			return b.String()
		}
		b.WriteString(line)
	}
}

func (p *smtpPeer) sender(t *testing.T) *SMTP {
	t.Helper()
	host, port, err := net.SplitHostPort(p.addr)
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	s, err := NewSMTP(SMTPConfig{Host: host, Port: n, TLS: TLSNone, From: "shop@kiln.test", Timeout: 5 * time.Second})
	require.NoError(t, err)
	return s
}

var peerMessage = Message{To: "buyer@example.com", Subject: "Your order", Text: "It is paid."}

// A server that took the message (250 after its data) and then hangs up on the RSET or QUIT
// has it: Send succeeds, so the job is not retried and the mail not delivered twice.
func TestSMTPSentOnceTheDataIsAccepted(t *testing.T) {
	t.Parallel()
	p := startSMTPPeer(t, "250 queued", true)
	require.NoError(t, p.sender(t).Send(context.Background(), peerMessage))
	require.Contains(t, <-p.took, "It is paid.")
}

// A server that hangs up before answering the data may not have the message: another attempt
// is worth making. A 554 answer to the data is a refusal another attempt cannot change.
func TestSMTPDataUnansweredOrRefused(t *testing.T) {
	t.Parallel()
	err := startSMTPPeer(t, "", false).sender(t).Send(context.Background(), peerMessage)
	require.Error(t, err)
	require.False(t, IsPermanent(err), err.Error())

	p := startSMTPPeer(t, "554 no thanks", false)
	err = p.sender(t).Send(context.Background(), peerMessage)
	require.Error(t, err)
	require.True(t, IsPermanent(err), err.Error())
}

// The send ends with its context's deadline: a server that accepts and never speaks held a
// job with a 20 s timeout for go-mail's own 30 s (a trial). Here the sender's timeout is 5 s,
// the context's 300 ms.
func TestSMTPSendEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			defer conn.Close()
			time.Sleep(10 * time.Second) // accepted, never a greeting
		}
	}()
	p := &smtpPeer{addr: ln.Addr().String()}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.sender(t).Send(ctx, peerMessage)
	require.Error(t, err)
	require.Less(t, time.Since(start), 4*time.Second, "ended near the context's deadline, not at the sender's 5 s")
}
