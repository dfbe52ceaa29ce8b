package httpx

import (
	"net/netip"
	"strings"
)

// ReservedPrefix is the path prefix of Gatehouse's own endpoints (sign-in,
// userinfo, the token service); requests under it are never proxied.
const ReservedPrefix = "/.gatehouse/"

// KeepOrNewRequestID keeps a client's X-Request-Id when it is 1–128
// characters of [A-Za-z0-9._-], and otherwise makes a new random one.
func KeepOrNewRequestID(client string) string {
	if n := len(client); n >= 1 && n <= 128 {
		ok := true
		for i := 0; i < n && ok; i++ {
			c := client[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		}
		if ok {
			return client
		}
	}
	return NewRequestID()
}

// PeerAddr returns the address of an http.Request's RemoteAddr
// ("ip:port"), IPv4-mapped IPv6 unmapped, or the zero Addr when it is not
// an address and port.
func PeerAddr(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// FoldHeader folds a header name the way a lenient upstream might read it
// (any letter case, '_' for '-'): two names that fold alike are the same
// header to Gatehouse, so that every spelling of an identity header is
// recognised and stripped, and config refuses two that would collide.
func FoldHeader(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// RefusePath reports why a request path must be refused before any route
// is matched, or "" when it is acceptable: a path that does not start with
// '/', holds a backslash, ';' or NUL, or a "." or ".." segment. With
// encoded, it also refuses the percent-encoded forms of '/', '\\', '.',
// NUL and ';' (a raw request target); without, it checks a route's path as
// written in the config. Refusing, rather than normalising, encoded
// separators and dot segments is what keeps a `none` route from ever
// forwarding a path that the upstream resolves into a protected one
// (/public/%2e%2e/api/x).
func RefusePath(p string, encoded bool) string {
	if p == "" || p[0] != '/' {
		return PathNoSlash
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			return "backslash in path"
		case ';':
			return "semicolon in path"
		case 0:
			return "NUL in path"
		case '%':
			if encoded && i+2 < len(p) {
				switch strings.ToLower(p[i+1 : i+3]) {
				case "2f":
					return "encoded slash in path"
				case "5c":
					return "encoded backslash in path"
				case "2e":
					return "encoded dot in path"
				case "00":
					return "encoded NUL in path"
				case "3b":
					return "encoded semicolon in path"
				}
			}
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return PathDotSegment
		}
	}
	return ""
}

// RefuseMethod reports why a method must be refused before any route is
// matched, or "" when it is acceptable: it must be a token (RFC 9110) in
// upper case. Method names are case-sensitive (RFC 9110 §9.1) and routes
// list them in upper case, so a lower-case "get" would fall through a
// GET-only route to a later one; an upstream that upper-cases methods
// would then serve it as GET.
func RefuseMethod(m string) string {
	if m == "" {
		return "empty method"
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case c >= 'a' && c <= 'z':
			return "method names are upper case"
		case !isTchar(c):
			return "method is not a token"
		}
	}
	return ""
}

// IsToken reports whether s is a non-empty RFC 9110 token (tchar only), the
// grammar of header names, cookie names and methods.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Two of RefusePath's answers, for callers that word them their own way.
const (
	PathNoSlash    = "path must start with /"
	PathDotSegment = "dot segment in path"
)
