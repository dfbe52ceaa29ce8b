package proxy

import (
	"net/netip"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// refusePath reports why a request target's raw path must be refused
// before any route is matched, or "" when it is acceptable: the rule is
// httpx.RefusePath's, the one config checks route paths with.
func refusePath(raw string) string { return httpx.RefusePath(raw, true) }

// refuseMethod reports why a method must be refused before any route is
// matched, or "" when it is acceptable (httpx.RefuseMethod, the rule
// config checks route methods with).
func refuseMethod(m string) string { return httpx.RefuseMethod(m) }

// normalizeHost returns the host a route's match.host is compared with:
// lower-cased, without port and brackets, without trailing dots
// ("Internal.example.com.:80" → "internal.example.com", "[::1]:8080" →
// "::1"). An upstream such as nginx resolves "example.com." to the same
// virtual host as "example.com", so matching must too. It returns "" when
// nothing is left (".", ":80", "") or the host is malformed ("[::1",
// brackets around something other than an IPv6 address).
func normalizeHost(host string) string {
	host = strings.ToLower(host)
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return ""
		}
		if rest := host[end+1:]; rest != "" && (rest[0] != ':' || !allDigits(rest[1:])) {
			return ""
		}
		if a, err := netip.ParseAddr(host[1:end]); err != nil || !a.Is6() {
			return ""
		}
		return host[1:end]
	}
	if strings.Count(host, ":") == 1 {
		host = host[:strings.IndexByte(host, ':')]
	}
	// Several colons without brackets: a bare IPv6 address (no port).
	return strings.TrimRight(host, ".")
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// mergeSlashes collapses runs of '/' into one. It returns p itself when
// there is nothing to merge, so the common case does not allocate.
func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	prevSlash := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' && prevSlash {
			continue
		}
		prevSlash = c == '/'
		b.WriteByte(c)
	}
	return b.String()
}

// rawPath returns the request target's path as the client sent it.
func rawPath(requestURI, escapedPath string) string {
	if requestURI != "" && requestURI[0] == '/' {
		if i := strings.IndexByte(requestURI, '?'); i >= 0 {
			return requestURI[:i]
		}
		return requestURI
	}
	return escapedPath
}
