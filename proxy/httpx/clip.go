package httpx

import (
	"strconv"
	"unicode/utf8"
)

// ClipBytes is the most bytes of a client-supplied string that a log line
// carries (README "Logs").
const ClipBytes = 256

// Clip returns s unchanged when it is at most ClipBytes long; otherwise
// its start, cut at a rune boundary, followed by a mark giving the
// original length ("…[+59392 bytes]"), ClipBytes bytes at most in all. Use
// it on every client-supplied string (username, user agent, path, rd,
// header value) before it goes into a log line.
func Clip(s string) string {
	if len(s) <= ClipBytes {
		return s
	}
	mark := "…[" + strconv.Itoa(len(s)) + " bytes]"
	i := ClipBytes - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}
