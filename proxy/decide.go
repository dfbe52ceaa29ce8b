package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// Request describes the request to decide on: what the client sent, as
// the reverse proxy sees it or as a forward-auth caller reports it.
type Request struct {
	Method   string
	URL      *url.URL    // path and query as sent; nil means "/"
	Host     string      // the Host the client asked for
	Header   http.Header // the client's headers, Cookie and Authorization included
	ClientIP netip.Addr  // the client, after trusted_proxies

	orig *http.Request // set by Describe: the request itself, used as is
}

// Describe describes r, for Decide. The client IP is the one the proxy's
// ServeHTTP recorded (httpx.ClientIP).
func Describe(r *http.Request) Request {
	return Request{Method: r.Method, URL: r.URL, Host: r.Host, Header: r.Header, ClientIP: httpx.ClientIP(r), orig: r}
}

// httpRequest is req as an *http.Request, for the session authenticator and
// the cross-origin check.
func (req Request) httpRequest(ctx context.Context) *http.Request {
	if req.orig != nil {
		return req.orig
	}
	u := req.URL
	if u == nil {
		u = &url.URL{Path: "/"}
	}
	r := (&http.Request{Method: req.Method, URL: u, Host: req.Host, Header: req.Header, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(ctx)
	if httpx.ClientIP(r) != req.ClientIP {
		r = r.WithContext(httpx.WithRequestInfo(ctx, httpx.RequestID(r), req.ClientIP))
	}
	return r
}

// Decision is the answer to "who is calling, may they pass, is this write
// safe". A door renders it: the reverse proxy forwards or writes the
// refusal; userinfo, forward-auth and the console write their own shapes.
type Decision struct {
	// Identity is the caller; nil on auth: none and on most refusals.
	Identity *auth.Identity
	// Outcome is the metrics outcome: metrics.OutcomeAllowed or the kind of
	// refusal (unauthenticated, revoked, forbidden, unavailable).
	Outcome string
	// Status is the refusal's HTTP status; 0 when the request may pass.
	// 302 is the login redirect (Header holds its Location).
	Status int
	// Code and Description are the refusal's JSON error code and text.
	Code, Description string
	// Header holds the headers the refusal needs: WWW-Authenticate,
	// Location and Cache-Control for the login redirect, Retry-After.
	Header http.Header
	// ViaBearer tells that the credential looked at was a Bearer token.
	ViaBearer bool
	// RevocationUnknown: the credential verified, the store could not say
	// whether it was revoked, and store.on_error: allow let it pass.
	RevocationUnknown bool
	// Err is the authenticator's error, for the log; never shown. Set on a
	// refusal by the authenticator and with RevocationUnknown.
	Err error
}

// Allowed reports whether the request may pass.
func (d Decision) Allowed() bool { return d.Status == 0 }

// DeciderOptions configures a Decider. Zero values are documented per field.
type DeciderOptions struct {
	Bearer   BearerVerifier       // nil: jwt routes refuse every token
	Sessions SessionAuthenticator // nil: session routes never find one
	// AllowOnStoreError lets a verified JWT through when the revocation
	// list cannot be read (store.on_error: allow). Default false: 503.
	AllowOnStoreError bool
	// SendableIdentity, if set, refuses (401) an identity it reports
	// false for: the proxy's check that it can be sent in its headers.
	// Nil: every identity is sendable.
	SendableIdentity func(*auth.Identity) bool
}

// Decider answers Decide. It is immutable and safe for concurrent use.
type Decider struct {
	o    DeciderOptions
	csrf *http.CrossOriginProtection
}

// NewDecider returns a Decider for o.
func NewDecider(o DeciderOptions) *Decider {
	return &Decider{o: o, csrf: http.NewCrossOriginProtection()}
}

// Decide is the one decision: authenticate by the route's auth mode, apply
// store.on_error, check that the identity can be sent, authorize by the
// route's Require, and refuse a cookie-authenticated cross-origin write or
// WebSocket handshake. Only rt.Auth and rt.Require are read.
func (d *Decider) Decide(ctx context.Context, req Request, rt Route) Decision {
	if rt.Auth == AuthNone {
		return Decision{Outcome: metrics.OutcomeAllowed}
	}
	id, viaBearer, err := d.authenticate(ctx, req, rt.Auth)
	dec := Decision{Identity: id, ViaBearer: viaBearer, Err: err}
	switch {
	case err != nil && errors.Is(err, auth.ErrUnavailable) && id != nil && d.o.AllowOnStoreError:
		// The credential itself verified (the verifier returns the
		// identity with ErrUnavailable); only the store could not say
		// whether it is revoked, and the operator chose availability.
		dec.RevocationUnknown = true
	case err != nil:
		dec.Identity = nil
		return refusal(dec, req, rt)
	}
	switch {
	case d.o.SendableIdentity != nil && !d.o.SendableIdentity(id):
		return refuse(dec, metrics.OutcomeUnauthenticated, http.StatusUnauthorized, "invalid_token", "identity contains characters that cannot be sent in a header")
	case !rt.Require.allows(id):
		return refuse(dec, metrics.OutcomeForbidden, http.StatusForbidden, "forbidden", "authenticated, but this route requires other groups, scopes or claims")
	case !viaBearer && d.crossOrigin(req.httpRequest(ctx)) != nil:
		// Cookie-authenticated state changes and WebSocket handshakes
		// must come from our own origin (CSRF, cross-site WebSocket
		// hijacking); Bearer requests cannot be forged by a browser.
		return refuse(dec, metrics.OutcomeForbidden, http.StatusForbidden, "forbidden", "cross-origin request refused")
	}
	dec.Outcome = metrics.OutcomeAllowed
	return dec
}

func refuse(d Decision, outcome string, status int, code, desc string) Decision {
	d.Outcome, d.Status, d.Code, d.Description = outcome, status, code, desc
	return d
}

// authenticate finds the caller for mode. viaBearer tells which credential
// was used, for the shape of a refusal.
func (d *Decider) authenticate(ctx context.Context, req Request, mode string) (id *auth.Identity, viaBearer bool, err error) {
	token, present, ok := httpx.BearerToken(req.Header)
	if mode == AuthJWT || (mode == AuthAny && present) {
		switch {
		case !present:
			return nil, true, auth.ErrNoCredentials
		case !ok:
			return nil, true, &auth.Error{Kind: auth.ErrInvalid, Description: "malformed Authorization header"}
		case d.o.Bearer == nil:
			return nil, true, &auth.Error{Kind: auth.ErrInvalid, Description: "no token issuer is configured"}
		}
		id, err = d.o.Bearer.Verify(ctx, token)
		return id, true, err
	}
	if d.o.Sessions == nil {
		return nil, false, auth.ErrNoCredentials
	}
	id, err = d.o.Sessions.Authenticate(req.httpRequest(ctx))
	return id, false, err
}

// refusal shapes a failed authentication per README "How a request is handled": RFC 6750
// challenges for Bearer, a login redirect for browser navigations, 503 with
// Retry-After when the store could not answer.
func refusal(d Decision, req Request, rt Route) Decision {
	err := d.Err
	d.Header = http.Header{}
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		d.Header.Set("Retry-After", "1")
		return refuse(d, metrics.OutcomeUnavailable, http.StatusServiceUnavailable, "unavailable", "authentication is temporarily unavailable")
	case errors.Is(err, auth.ErrRevoked):
		d.Outcome = metrics.OutcomeRevoked
	default:
		d.Outcome = metrics.OutcomeUnauthenticated
	}
	if rt.Auth != AuthJWT && !d.ViaBearer && isNavigation(req) {
		d.Header.Set("Cache-Control", "no-store")
		d.Header.Set("Location", loginURL(req.URL))
		d.Status = http.StatusFound
		return d
	}
	desc := auth.Describe(err)
	if desc == "" {
		desc = "authentication required"
	}
	d.Status, d.Code, d.Description = http.StatusUnauthorized, "unauthorized", desc
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		d.Header.Set("WWW-Authenticate", `Bearer`)
	case d.ViaBearer:
		d.Header.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+quoteSafe(desc)+`"`)
		d.Code = "invalid_token"
	}
	return d
}

// isNavigation reports a browser page load: GET or HEAD accepting HTML.
func isNavigation(req Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		strings.Contains(req.Header.Get("Accept"), "text/html")
}

func loginURL(u *url.URL) string {
	rd := "/"
	if u != nil {
		rd = u.EscapedPath()
		if u.RawQuery != "" {
			rd += "?" + u.RawQuery
		}
	}
	return ReservedPrefix + "login?rd=" + url.QueryEscape(rd)
}

// quoteSafe keeps a description inside an RFC 6750 quoted-string.
func quoteSafe(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			return '\''
		}
		return c
	}, s)
}

// crossOrigin applies http.CrossOriginProtection to a cookie-authenticated
// request. A WebSocket handshake is a GET, which CrossOriginProtection lets
// through as a safe method; but it opens a channel that acts with the
// user's cookie (cross-site WebSocket hijacking), so it is judged like a
// state-changing request.
func (d *Decider) crossOrigin(r *http.Request) error {
	if isWebSocket(r) {
		r = r.WithContext(r.Context()) // a shallow copy, so the method can change
		r.Method = http.MethodPost
	}
	return d.csrf.Check(r)
}
