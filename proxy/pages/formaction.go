package pages

import (
	"net/url"
	"strings"
)

// formActions renders the extra form-action sources: each origin that
// parses as http(s)://host, once; anything else is left out.
func formActions(origins []string) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(u.Host, " ;'\"") {
			continue
		}
		origin := u.Scheme + "://" + u.Host
		if !seen[origin] {
			seen[origin] = true
			b.WriteString(" " + origin)
		}
	}
	return b.String()
}
