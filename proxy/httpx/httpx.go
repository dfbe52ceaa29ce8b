// Package httpx holds the small HTTP helpers shared by Gatehouse's own
// endpoints (the proxy, the reserved /.gatehouse/ pages, the admin API): the
// JSON error body, the request ID and the client IP the proxy decided on.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
)

// RequestIDHeader carries the request ID to the upstream and the client.
const RequestIDHeader = "X-Request-Id"

// ErrorBody is the JSON body of every error Gatehouse answers itself. All
// three members are always present (README "How a request is handled").
type ErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	RequestID        string `json:"request_id"`
}

// WriteError answers with status and a JSON ErrorBody, or, for a browser
// navigation under WithErrorPages, with the HTML error page. description
// must never contain a credential; an empty one is replaced by the status
// text ("not found"). A request that has no request ID yet (one that did not
// come through the proxy or the admin API) gets a new one, also set as the
// X-Request-Id response header.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	if writeErrorPage(w, r, status, code, description) {
		return
	}
	h := w.Header()
	if description == "" {
		description = strings.ToLower(http.StatusText(status))
	}
	if description == "" {
		description = code
	}
	id := RequestID(r)
	if id == "" {
		id = h.Get(RequestIDHeader)
	}
	if id == "" {
		id = NewRequestID()
		h.Set(RequestIDHeader, id)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: code, ErrorDescription: description, RequestID: id})
}

// NewRequestID returns a random request ID: 32 hex digits.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WriteJSON answers with status and v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Info is what Gatehouse decided about a request, carried in its context
// as one value (one allocation per request, not one per item): its ID, its
// client's address, the error page for browser navigations
// (WithErrorPages), and the per-request state of the handler that made it.
type Info struct {
	RequestID string
	ClientIP  netip.Addr
	// Pages answers browser navigations' errors in WriteError; nil: JSON.
	Pages ErrorPageFunc
	// State is the making handler's own per-request state (the proxy's
	// exchange), for its hooks that receive only the request; nil for
	// others.
	State any

	decided bool // RequestID and ClientIP were decided (WithInfo, WithRequestInfo)
}

type infoKey struct{}

// WithInfo returns ctx carrying in, whose RequestID and ClientIP are then
// what RequestID and ClientIP answer. in must not change afterwards (but
// for its State's own fields).
func WithInfo(ctx context.Context, in *Info) context.Context {
	in.decided = true
	return context.WithValue(ctx, infoKey{}, in)
}

// InfoOf returns the Info in ctx, or nil.
func InfoOf(ctx context.Context) *Info {
	in, _ := ctx.Value(infoKey{}).(*Info)
	return in
}

// WithRequestInfo returns ctx carrying the request ID and client IP decided
// by the proxy (and the error pages ctx already had).
func WithRequestInfo(ctx context.Context, requestID string, clientIP netip.Addr) context.Context {
	in := &Info{RequestID: requestID, ClientIP: clientIP}
	if prev := InfoOf(ctx); prev != nil {
		in.Pages = prev.Pages
	}
	return WithInfo(ctx, in)
}

// RequestID returns the request's ID: the one the proxy decided on, else the
// X-Request-Id header, else "".
func RequestID(r *http.Request) string {
	if in := InfoOf(r.Context()); in != nil && in.decided {
		return in.RequestID
	}
	return r.Header.Get(RequestIDHeader)
}

// ClientIP returns the client address the proxy decided on (honouring
// trusted_proxies), else the peer address of r.
func ClientIP(r *http.Request) netip.Addr {
	if in := InfoOf(r.Context()); in != nil && in.decided {
		return in.ClientIP
	}
	return PeerAddr(r.RemoteAddr)
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
// present is false when there is no Bearer credential at all (no header,
// or another scheme); a malformed one (several Authorization headers, an
// empty token) is present with ok false.
func BearerToken(h http.Header) (token string, present, ok bool) {
	vals := h.Values("Authorization")
	if len(vals) == 0 {
		return "", false, false
	}
	scheme, tok, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, false
	}
	tok = strings.TrimSpace(tok)
	if len(vals) > 1 || tok == "" {
		return "", true, false
	}
	return tok, true, true
}
