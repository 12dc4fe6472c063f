// Package netpolicy says which network addresses Kiln's outgoing requests to addresses a spec
// or an API caller names (webhook deliveries) may reach: public ones, and the networks the
// spec allows. The webhook guard applies it at every connection; the spec applies it to the
// addresses its URLs spell out, so such a mistake is caught before kiln serve starts.
package netpolicy

import "net/netip"

// blocked are the networks no delivery reaches unless the spec allows them: besides what
// netip classifies (loopback, private, link-local, multicast, unspecified), shared and
// reserved space where internal services live.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: may embed any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4: may embed any IPv4 address
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fc00::/7"),           // unique-local, with fd00:ec2::254 (AWS metadata)
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local, with 169.254.169.254 (metadata)
	netip.MustParsePrefix("fe80::/10"),          // link-local
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba metadata, inside CGNAT anyway
}

// Allowed reports whether ip may be reached: a public address, or one in allow.
func Allowed(ip netip.Addr, allow []netip.Prefix) bool {
	ip = ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
