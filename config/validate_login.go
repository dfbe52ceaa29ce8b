package config

import (
	"net/url"
	"strings"
)

// checkLogoURL reports a login.logo_url that is neither an absolute https
// URL nor a local path: the pages' Content-Security-Policy allows images
// from exactly that origin (or 'self'), and nothing else.
func checkLogoURL(p *problems, path, s string) {
	if s == "" {
		return
	}
	const hint = `; write an https URL such as "https://cdn.example.com/logo.svg" or a path such as "/static/logo.svg"`
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' || r == '"' || r == '\'' }) {
		p.add(path, "%q contains spaces, quotes, backslashes or control characters"+hint, s)
		return
	}
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "":
		p.add(path, "%q is not a URL or a path"+hint, s)
	case u.Scheme != "https":
		p.add(path, "%q has scheme %q; only https images are allowed"+hint, s, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		p.add(path, "%q has no host"+hint, s)
	case u.User != nil:
		p.add(path, "%q carries credentials; a logo URL may not contain user:password@", u.Redacted())
	case strings.ContainsAny(u.Host, ";,"):
		p.add(path, "%q has an invalid host"+hint, s)
	}
}
