package config

import (
	"fmt"
	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
)

var routeName = regexp.MustCompile(`^[a-z0-9_-]+$`)

// reservedRouteNames are route label values Gatehouse's metrics use itself.
var reservedRouteNames = map[string]bool{"_refused": true, "_unmatched": true, "_gatehouse": true}

func (c *Config) validateRoutes(p *problems) {
	if len(c.Routes) == 0 {
		p.add("routes", "no routes; every request would be 404. Add at least one, e.g. {name: app, match: {path_prefix: \"/\"}, auth: session}")
		return
	}
	names := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		path := index("routes", i)
		switch {
		case !routeName.MatchString(r.Name):
			p.add(path+".name", "%q must match [a-z0-9_-]+", r.Name)
		case reservedRouteNames[r.Name]:
			p.add(path+".name", "%q is reserved for Gatehouse's own metrics", r.Name)
		default:
			if j, dup := names[r.Name]; dup {
				p.add(path+".name", "%q is also the name of routes[%d]; names must be unique", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		validateMatch(p, path+".match", r.Match)
		c.validateRouteAuth(p, path, r)
		if r.Upstream != "" {
			checkUpstream(p, path+".upstream", r.Upstream)
		} else if c.Upstream == "" {
			p.add(path+".upstream", "empty, and so is the top-level upstream; set one of them")
		}
		c.checkReachable(p, i)
	}
}

func validateMatch(p *problems, path string, m Match) {
	switch {
	case m.Path == "" && m.PathPrefix == "":
		p.add(path, "needs path or path_prefix, e.g. {path_prefix: \"/\"}")
	case m.Path != "" && m.PathPrefix != "":
		p.add(path, "has both path %q and path_prefix %q; keep one", m.Path, m.PathPrefix)
	default:
		key, v := "path", m.Path
		if v == "" {
			key, v = "path_prefix", m.PathPrefix
		}
		if problem := pathProblem(v); problem != "" {
			p.add(path+"."+key, "%q %s", v, problem)
		}
	}
	for j, meth := range m.Methods {
		if httpx.RefuseMethod(meth) != "" {
			p.add(index(path+".methods", j), "%q is not an upper-case method name, e.g. GET, POST", meth)
		}
	}
	if m.Host != "" {
		if strings.Trim(m.Host, ".") == "" {
			p.add(path+".host", "%q is empty once trailing dots are removed; write e.g. \"app.example.com\"", m.Host)
		} else if strings.ContainsAny(m.Host, "/ @") {
			p.add(path+".host", "%q is not a host name; write e.g. \"app.example.com\"", m.Host)
		} else if strings.Contains(m.Host, ":") && !isIPv6(m.Host) {
			p.add(path+".host", "%q has a port; hosts are matched without the port, write e.g. \"app.example.com\"", m.Host)
		} else if strings.ContainsAny(m.Host, "[]") && !isIPv6(m.Host) {
			p.add(path+".host", "%q: brackets are for IPv6 addresses only, e.g. \"[::1]\"", m.Host)
		}
	}
}

// pathProblem says why no request can ever be matched on path p: requests
// with such paths are refused, or merged, before routing.
func pathProblem(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "must start with \"/\""
	}
	if strings.Contains(p, "//") {
		return "contains \"//\"; repeated slashes are merged before matching, so it can never match"
	}
	switch httpx.RefusePath(p, false) {
	case "":
		return ""
	case httpx.PathDotSegment:
		return "contains a \".\" or \"..\" segment; such requests are refused, so it can never match"
	default:
		return "contains a backslash, \";\" or NUL; such requests are refused, so it can never match"
	}
}

func (c *Config) validateRouteAuth(p *problems, path string, r *Route) {
	if !r.Mode().Valid() {
		var modes []string
		for _, m := range auth.Modes {
			modes = append(modes, string(m))
		}
		p.add(path+".auth", "unknown mode %q (want %s)", r.Auth, oneOf(modes...))
		return
	}
	req := r.Require
	hasRequire := len(req.Groups) > 0 || len(req.Scopes) > 0 || len(req.Claims) > 0
	if r.Mode() == auth.ModeNone && hasRequire {
		p.add(path+".require", "set on a route with auth: none, which has no identity to check; use session, jwt or any")
	}
	if r.Mode() == auth.ModeSession && len(req.Scopes) > 0 {
		p.add(path+".require.scopes", "sessions carry no scopes, so auth: session can never satisfy them; use jwt or any")
	}
	if (r.Mode() == auth.ModeSession || r.Mode() == auth.ModeAny) && c.Users.File == "" && c.Users.HtpasswdFile == "" && len(c.OIDC.Providers) == 0 {
		p.add(path+".auth", "%s needs users: set users.file or users.htpasswd_file", r.Auth)
	}
	if (r.Mode() == auth.ModeJWT || r.Mode() == auth.ModeAny) && len(c.JWT.Issuers) == 0 && c.JWT.Issue.SigningKeyFile == "" {
		p.add(path+".auth", "%s needs a token issuer: add jwt.issuers or set jwt.issue.signing_key_file", r.Auth)
	}
	for _, k := range sortedKeys(req.Claims) {
		if k == "" {
			p.add(path+".require.claims", "has an empty claim name")
		}
	}
}

// checkReachable reports routes[i] when an earlier route matches every
// request it would, so that it can never be chosen.
func (c *Config) checkReachable(p *problems, i int) {
	r := c.Routes[i]
	for j := range i {
		e := c.Routes[j]
		if !covers(e, r) {
			continue
		}
		how := fmt.Sprintf("path_prefix %q", e.Match.PathPrefix)
		if e.Match.Path != "" {
			how = fmt.Sprintf("path %q", e.Match.Path)
		}
		p.add(index("routes", i), "route %q can never match: route %q (routes[%d]) comes first and matches all its requests (%s); move %q above it",
			r.Name, e.Name, j, how, r.Name)
		return
	}
}

// covers reports whether route e matches every request route r matches.
func covers(e, r Route) bool {
	if (e.Match.Path == "") == (e.Match.PathPrefix == "") || (r.Match.Path == "") == (r.Match.PathPrefix == "") {
		return false // invalid match, reported on its own
	}
	if e.Match.Host != "" && !strings.EqualFold(e.Match.Host, r.Match.Host) {
		return false
	}
	if len(e.Match.Methods) > 0 {
		if len(r.Match.Methods) == 0 {
			return false
		}
		for _, m := range r.Match.Methods {
			if !slices.Contains(e.Match.Methods, m) {
				return false
			}
		}
	}
	rp := r.Match.Path + r.Match.PathPrefix // exactly one is set when valid
	switch {
	case e.Match.PathPrefix != "":
		return strings.HasPrefix(rp, e.Match.PathPrefix)
	case e.Match.Path != "":
		return r.Match.Path == e.Match.Path && r.Match.PathPrefix == ""
	}
	return false
}

// isIPv6 reports whether s is an IPv6 address, bare or in brackets.
func isIPv6(s string) bool {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return err == nil && a.Is6()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
