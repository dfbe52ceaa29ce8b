package proxy

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// Headers names the identity headers Gatehouse sets upstream. Empty names
// are not sent (User, Email, Groups and Method default in config).
type Headers struct {
	User      string
	Email     string
	Groups    string
	Method    string
	Extra     map[string]string // header name → claim path
	Assertion string            // header carrying a signed identity JWT; "" for none
}

// names returns every configured identity header name, for stripping.
func (h Headers) names() []string {
	out := []string{h.User, h.Email, h.Groups, h.Method, h.Assertion}
	for name := range h.Extra {
		out = append(out, name)
	}
	return out
}

// stripper removes client-sent copies of identity headers.
type stripper map[string]struct{}

func newStripper(names []string) stripper {
	s := make(stripper, len(names))
	for _, n := range names {
		if n != "" {
			s[httpx.FoldHeader(n)] = struct{}{}
		}
	}
	return s
}

// strip deletes every header whose folded name is an identity header. It
// iterates over the request's headers (usually a handful) rather than the
// identity names, so that X_Auth_User and x-auth-user are caught too.
func (s stripper) strip(h http.Header) {
	var buf [64]byte
	for k := range h {
		var ours bool
		if b, ok := foldASCII(buf[:0], k); ok {
			_, ours = s[string(b)] // no allocation for a lookup by string(bytes)
		} else {
			_, ours = s[httpx.FoldHeader(k)]
		}
		if ours {
			delete(h, k)
		}
	}
}

// foldASCII appends httpx.FoldHeader(k) to buf without allocating, when k
// is ASCII and fits in buf's capacity; ok is false otherwise.
func foldASCII(buf []byte, k string) (folded []byte, ok bool) {
	if len(k) > cap(buf) {
		return nil, false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 0x80:
			return nil, false
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		buf = append(buf, c)
	}
	return buf, true
}

// setIdentity writes the identity headers for id onto h. Values that could
// not travel in a header (control characters) are refused by validIdentity
// before this is reached.
func (hs Headers) setIdentity(h http.Header, id *auth.Identity) {
	std := [...]struct{ name, value string }{
		{hs.User, id.User}, {hs.Email, id.Email}, {hs.Groups, strings.Join(id.Groups, ",")}, {hs.Method, id.Method},
	}
	// One backing array for every value (one allocation, not one per
	// header); each header gets a one-element slice of it whose capacity
	// ends there, so an append to one header cannot reach the next.
	vals := make([]string, 0, len(std)+len(hs.Extra))
	for _, p := range std {
		if p.name != "" && p.value != "" {
			vals = append(vals, p.value)
			n := len(vals)
			h[http.CanonicalHeaderKey(p.name)] = vals[n-1 : n : n]
		}
	}
	for name, path := range hs.Extra {
		if v, ok := id.Claim(path); ok {
			if s := claimString(v); s != "" {
				vals = append(vals, s)
				n := len(vals)
				h[http.CanonicalHeaderKey(name)] = vals[n-1 : n : n]
			}
		}
	}
}

// validIdentity reports whether every value that becomes a header is free of
// control characters (a claim with a newline must not split a header).
func (hs Headers) validIdentity(id *auth.Identity) bool {
	if !headerSafe(id.User) || !headerSafe(id.Email) || !headerSafe(id.Method) {
		return false
	}
	for _, g := range id.Groups {
		if !headerSafe(g) || strings.Contains(g, ",") {
			return false
		}
	}
	for _, path := range hs.Extra {
		if v, ok := id.Claim(path); ok && !headerSafe(claimString(v)) {
			return false
		}
	}
	return true
}

func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// claimString renders a claim value for a header: strings as they are,
// numbers and booleans in JSON form, arrays comma-joined, objects as JSON.
func claimString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		return strings.Join(v, ",")
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = claimString(e)
		}
		return strings.Join(parts, ",")
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// clientIP decides who the client is: the peer, unless the peer is a
// trusted proxy, in which case the right-most untrusted X-Forwarded-For
// entry (or the left-most, when every entry is trusted).
func clientIP(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	if !isTrusted(peer, trusted) || len(xff) == 0 {
		return peer
	}
	// The entries of every X-Forwarded-For line, right to left, read in
	// place (no split, no allocation).
	ip := peer
	for i := len(xff) - 1; i >= 0; i-- {
		rest := xff[i]
		for {
			hop := rest
			cut := strings.LastIndexByte(rest, ',')
			if cut >= 0 {
				hop, rest = rest[cut+1:], rest[:cut]
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return ip
			}
			ip = a.Unmap()
			if !isTrusted(ip, trusted) {
				return ip
			}
			if cut < 0 {
				break
			}
		}
	}
	return ip
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
