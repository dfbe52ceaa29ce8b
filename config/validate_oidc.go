package config

import (
	"net"
	"net/url"
	"regexp"
	"strings"
)

var oidcNameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

// validateOIDC checks oidc.providers without network I/O (the secret
// files are read by CheckFiles).
func (c *Config) validateOIDC(p *problems) {
	seen := map[string]bool{}
	for i, op := range c.OIDC.Providers {
		k := index("oidc.providers", i)
		switch {
		case !oidcNameRE.MatchString(op.Name):
			p.add(k+".name", "%q: want lower-case letters, digits, _ and - (e.g. corp)", op.Name)
		case seen[op.Name]:
			p.add(k+".name", "%q is used by another provider; names must be unique", op.Name)
		}
		seen[op.Name] = true
		if msg := checkIssuerURL(op.Issuer); msg != "" {
			p.add(k+".issuer", "%q: %s", op.Issuer, msg)
		}
		if op.ClientID == "" {
			p.add(k+".client_id", "empty; write the client ID registered at the provider")
		}
		if op.RedirectURL != "" {
			u, err := url.Parse(op.RedirectURL)
			if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) ||
				u.Path != "/.gatehouse/oidc/callback" {
				p.add(k+".redirect_url", "%q: want an absolute https URL (http only on loopback) with the path /.gatehouse/oidc/callback, or empty", op.RedirectURL)
			}
		}
		cl := op.Claims
		for _, f := range []struct{ key, path string }{{"user", cl.User}, {"email", cl.Email}, {"groups", cl.Groups}} {
			if f.path != "" && (strings.HasPrefix(f.path, ".") || strings.HasSuffix(f.path, ".") || strings.Contains(f.path, "..") || strings.TrimSpace(f.path) != f.path) {
				p.add(k+".claims."+f.key, "%q: want a claim name or a dotted path such as realm_access.roles", f.path)
			}
		}
		if op.Revalidate != nil && *op.Revalidate < 0 {
			p.add(k+".revalidate", "%s is negative; write e.g. \"5m\", or 0 to never refresh", *op.Revalidate)
		}
	}
}

// checkIssuerURL returns what is wrong with an issuer URL, or "".
func checkIssuerURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return "want an absolute URL such as https://idp.example.com"
	case u.Scheme == "https", u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return ""
	}
	return "want an https URL (http only for loopback hosts)"
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
