package proxy

import (
	"net/http"
	"strings"
)

// dropUpgrade removes from a client request every protocol upgrade but
// WebSocket (README "What the upstream sees"). An "Upgrade: h2c" passed to an upstream that
// accepts it would open a raw HTTP/2 tunnel past every route and header rule;
// so Upgrade, HTTP2-Settings and the matching Connection tokens go, and the
// request continues as plain HTTP/1.1. A WebSocket offer keeps exactly
// "Upgrade: websocket" (other protocols offered beside it are dropped), so
// ReverseProxy refuses an upstream that switches to anything else.
func dropUpgrade(h http.Header) {
	h.Del("Http2-Settings")
	ups := h.Values("Upgrade")
	if len(ups) == 0 {
		return
	}
	if hasToken(ups, "websocket") {
		h.Set("Upgrade", "websocket")
		return
	}
	h.Del("Upgrade")
	var keep []string
	for _, v := range h.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok != "" && !strings.EqualFold(tok, "upgrade") && !strings.EqualFold(tok, "http2-settings") {
				keep = append(keep, tok)
			}
		}
	}
	h.Del("Connection")
	if len(keep) > 0 {
		h.Set("Connection", strings.Join(keep, ", "))
	}
}

// isWebSocket reports a WebSocket handshake (after dropUpgrade).
func isWebSocket(r *http.Request) bool {
	return hasToken(r.Header.Values("Upgrade"), "websocket")
}

// hasToken reports whether a comma-separated header holds token, in any
// case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}
