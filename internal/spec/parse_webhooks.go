package spec

import (
	"net/netip"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

var (
	webhookKeys        = []string{"name", "url", "events", "when", "type", "secret_env"}
	incomingKeys       = []string{"name", "path", "scheme", "secret_env", "handler", "action", "tolerance", "max_body_bytes"}
	incomingActionKeys = []string{"resource", "name", "record_id"}
)

func (w *walker) webhooks(n ast.Node, wh *Webhooks) {
	wh.Enabled = true
	for _, item := range w.list(n, "webhooks") {
		s := &Webhook{Pos: w.pos(item), keyPos: map[string]Pos{}}
		entries, _ := w.mapping(item, "webhook", webhookKeys...)
		for _, e := range entries {
			what := "webhook." + e.key
			switch e.key {
			case "name":
				s.Name = w.str(e.value, what)
			case "url":
				s.URL = w.str(e.value, what)
			case "events":
				s.Events = w.stringsAt(e.value, what, s.keyPos, "events")
			case "when":
				s.When = w.expr(e.value, what)
			case "type":
				s.Type = w.str(e.value, what)
			case "secret_env":
				s.SecretEnv = w.str(e.value, what)
			}
		}
		wh.Subscriptions = append(wh.Subscriptions, s)
	}
}

// allowNetworks reads IP addresses and CIDR prefixes; a bare address is its own /32 or /128.
func (w *walker) allowNetworks(n ast.Node, wh *Webhooks) {
	for _, item := range w.list(n, "webhooks_allow_hosts") {
		text := w.str(item, "webhooks_allow_hosts")
		p, err := netip.ParsePrefix(text)
		if err != nil && !strings.Contains(text, "/") {
			var a netip.Addr
			if a, err = netip.ParseAddr(text); err == nil {
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
		}
		if err != nil {
			w.add(w.pos(item), "webhooks_allow_hosts: %q is not an IP address or CIDR prefix (names are not accepted: the guard checks the address a name resolves to)", text)
			continue
		}
		wh.AllowNetworks = append(wh.AllowNetworks, p.Masked())
	}
}

func (w *walker) incomingWebhooks(n ast.Node, wh *Webhooks) {
	for _, item := range w.list(n, "incoming_webhooks") {
		in := &IncomingWebhook{Pos: w.pos(item), KeyPos: map[string]Pos{}}
		entries, _ := w.mapping(item, "incoming webhook", incomingKeys...)
		for _, e := range entries {
			w.notePos(in.KeyPos, "", e)
			what := "incoming_webhooks." + e.key
			switch e.key {
			case "name":
				in.Name = w.str(e.value, what)
			case "path":
				in.Path = w.str(e.value, what)
			case "scheme":
				in.Scheme = w.str(e.value, what)
			case "secret_env":
				in.SecretEnv = w.str(e.value, what)
			case "handler":
				in.Handler = w.str(e.value, what)
			case "action":
				in.KeyPos[e.key] = e.pos // a block mapping's own position is its first colon's
				in.Action = w.incomingAction(e.value, in.KeyPos)
			case "tolerance":
				in.Tolerance = w.duration(e.value, what)
			case "max_body_bytes":
				if v, ok := w.integer(e.value, what); ok {
					in.MaxBodyBytes = v
				}
			}
		}
		wh.Incoming = append(wh.Incoming, in)
	}
}

// incomingAction reads an incoming webhook's action:, noting where each key's value is
// written in keyPos as "action.<key>".
func (w *walker) incomingAction(n ast.Node, keyPos map[string]Pos) *IncomingAction {
	a := &IncomingAction{}
	entries, _ := w.mapping(n, "incoming_webhooks.action", incomingActionKeys...)
	for _, e := range entries {
		w.notePos(keyPos, "action.", e)
		v := w.str(e.value, "incoming_webhooks.action."+e.key)
		switch e.key {
		case "resource":
			a.Resource = v
		case "name":
			a.Name = v
		case "record_id":
			a.RecordID = v
		}
	}
	return a
}
