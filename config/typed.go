package config

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// The typed values. The file spells every value as text; these methods hand
// the rest of Gatehouse the parsed value, through the same function that
// Validate uses to check it, so that the grammar lives here only. Each is
// meant for a config that Validate accepted; for a value that Validate
// refuses it returns the zero value.

// OnError is store.on_error: what a request gets when the store cannot say
// whether its credential was revoked.
type OnError int

const (
	OnErrorDeny  OnError = iota // 503
	OnErrorAllow                // the verified credential passes
)

var onErrors = map[string]OnError{"deny": OnErrorDeny, "allow": OnErrorAllow}

// ErrorPolicy is store.on_error, typed.
func (s Store) ErrorPolicy() OnError { return onErrors[s.OnError] }

// SameSite is session.same_site: the session cookie's SameSite attribute.
type SameSite int

const (
	SameSiteLax SameSite = iota
	SameSiteStrict
)

var sameSites = map[string]SameSite{"lax": SameSiteLax, "strict": SameSiteStrict}

// SameSiteMode is session.same_site, typed.
func (s Session) SameSiteMode() SameSite { return sameSites[s.SameSite] }

// Mode is the route's auth, typed.
func (r Route) Mode() auth.Mode { return auth.Mode(r.Auth) }

// Rates are login.rate (per username and client IP) and login.client_rate
// (per client IP), parsed.
func (l Login) Rates() (perUser, perClient auth.Rate) {
	return rate(l.Rate), rate(l.ClientRate)
}

func rate(s string) auth.Rate {
	n, per, err := ParseRate(s)
	if err != nil {
		return auth.Rate{}
	}
	return auth.Rate{N: n, Per: per}
}

// UpstreamURL is upstream, parsed; nil when it is empty.
func (c *Config) UpstreamURL() *url.URL {
	u, _ := parseUpstream(c.Upstream)
	return u
}

// UpstreamURL is the route's upstream, parsed; nil when it names none (the
// top-level upstream applies).
func (r Route) UpstreamURL() *url.URL {
	u, _ := parseUpstream(r.Upstream)
	return u
}

// TrustedPrefixes is trusted_proxies, parsed: a single address becomes the
// prefix of that address alone (IPv4-mapped IPv6 addresses unmapped), a
// CIDR is masked. Values that do not parse are left out.
func (c *Config) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, ok := parsePrefix(s); ok {
			out = append(out, p)
		}
	}
	return out
}

// parseUpstream parses an upstream URL: an absolute http(s) URL with a
// host, no credentials, query or fragment. problem says what is wrong in
// the words of a config error ("" when nothing is; raw "" is no upstream).
func parseUpstream(raw string) (u *url.URL, problem string) {
	if raw == "" {
		return nil, ""
	}
	if !strings.Contains(raw, "://") {
		return nil, "has no scheme; write \"http://" + strings.TrimPrefix(raw, "//") + "\""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, "is not a URL; write e.g. \"http://127.0.0.1:3000\""
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "has scheme " + strconv.Quote(u.Scheme) + "; want http or https"
	case u.Host == "" || u.Hostname() == "":
		return nil, "has no host; write e.g. \"http://127.0.0.1:3000\""
	case u.User != nil:
		return nil, "carries credentials; upstream URLs may not contain user:password@"
	case u.RawQuery != "" || u.Fragment != "":
		return nil, "has a query or fragment; an upstream is scheme://host[:port][/path]"
	}
	return u, ""
}

// parsePrefix parses a trusted_proxies entry: a CIDR or a single IP.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
