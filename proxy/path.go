package proxy

import "strings"

// refusePath reports why a request target's raw path must be refused before
// any route is matched, or "" when it is acceptable. Refusing, rather than
// normalising, encoded separators and dot segments is what keeps a `none`
// route from ever forwarding a path that the upstream resolves into a
// protected one (/public/%2e%2e/api/x).
func refusePath(raw string) string {
	if raw == "" || raw[0] != '/' {
		return "path must start with /"
	}
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\\':
			return "backslash in path"
		case ';':
			return "semicolon in path"
		case 0:
			return "NUL in path"
		case '%':
			if i+2 < len(raw) {
				switch strings.ToLower(raw[i+1 : i+3]) {
				case "2f":
					return "encoded slash in path"
				case "5c":
					return "encoded backslash in path"
				case "2e":
					return "encoded dot in path"
				case "00":
					return "encoded NUL in path"
				}
			}
		}
	}
	for seg := range strings.SplitSeq(raw, "/") {
		if seg == "." || seg == ".." {
			return "dot segment in path"
		}
	}
	return ""
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
