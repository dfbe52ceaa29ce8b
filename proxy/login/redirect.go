package login

import (
	"net/url"
	"unicode"
	"unicode/utf8"
)

// maxRedirect bounds the length of an rd value.
const maxRedirect = 2048

// SafeRedirect returns rd when it is a local path on this host (such as
// "/app?x=1"), and "/" otherwise: scheme-relative "//host", "/\host",
// absolute URLs ("https:", "javascript:"), anything not starting with "/",
// invalid UTF-8, control characters, and values that become one of these
// once percent-decoded (such as "/%0d%0aSet-Cookie:x" or "/%2F%2Fhost").
func SafeRedirect(rd string) string {
	if !isLocalPath(rd) {
		return "/"
	}
	dec, err := url.PathUnescape(rd)
	if err != nil || !isLocalPath(dec) {
		return "/"
	}
	return rd
}

func isLocalPath(s string) bool {
	if s == "" || len(s) > maxRedirect || s[0] != '/' || !utf8.ValidString(s) {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for _, r := range s {
		if r == '\\' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}
