package proxy

import (
	"net/http"
	"slices"
	"strings"
)

// stripCookies removes every cookie named one of names (compared exactly)
// from h's Cookie headers, keeping the other pairs byte for byte, and
// drops headers left empty: the upstream never sees Gatehouse's own
// cookies (the session cookie, the login form's CSRF cookie).
func stripCookies(h http.Header, names []string) {
	lines := h.Values("Cookie")
	if len(lines) == 0 || len(names) == 0 {
		return
	}
	var out []string
	for _, line := range lines {
		var keep []string
		changed := false
		for part := range strings.SplitSeq(line, ";") {
			n, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if slices.Contains(names, strings.TrimSpace(n)) {
				changed = true
				continue
			}
			keep = append(keep, part)
		}
		if !changed {
			out = append(out, line)
			continue
		}
		if s := strings.TrimSpace(strings.Join(keep, ";")); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		h.Del("Cookie")
		return
	}
	h["Cookie"] = out
}

// ownCookies is the list of Gatehouse's cookie names: the session
// cookie and Options.ProtectedCookies, without empty or repeated names.
func ownCookies(sessions SessionAuthenticator, protected []string) []string {
	var names []string
	if sessions != nil {
		names = append(names, sessions.CookieName())
	}
	names = append(names, protected...)
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" })
	slices.Sort(names)
	return slices.Compact(names)
}
