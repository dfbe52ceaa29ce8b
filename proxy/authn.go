package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// authorize runs the route's authentication and authorization. It either
// records the identity in x and returns true, or answers the request itself
// and returns false.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	rt := x.route
	if rt.Auth == AuthNone {
		return true
	}
	start := time.Now()
	id, viaBearer, err := h.authenticate(r, rt.Auth)
	rt.authDur.Observe(time.Since(start).Seconds())
	if err != nil && errors.Is(err, auth.ErrUnavailable) && id != nil && h.allowOnSE {
		// The credential itself verified; only the store could not say
		// whether it is revoked, and the operator chose availability.
		h.m.StoreErrorsAllowed.Inc()
		h.log.WarnContext(r.Context(), "store unavailable; request allowed by store.on_error", "request_id", x.requestID, "route", rt.Name, "error", err)
		err = nil
	}
	if err != nil {
		h.refuse(w, r, x, viaBearer, err)
		return false
	}
	x.id = id
	if !h.headers.validIdentity(id) {
		x.outcome = metrics.OutcomeUnauthenticated
		httpx.WriteError(w, r, http.StatusUnauthorized, "invalid_token", "identity contains characters that cannot be sent in a header")
		return false
	}
	if !rt.Require.allows(id) {
		x.outcome = metrics.OutcomeForbidden
		httpx.WriteError(w, r, http.StatusForbidden, "forbidden", "authenticated, but this route requires other groups, scopes or claims")
		return false
	}
	if !viaBearer {
		// Cookie-authenticated state changes and WebSocket handshakes
		// must come from our own origin (CSRF, cross-site WebSocket
		// hijacking); Bearer requests cannot be forged by a browser.
		if err := h.crossOrigin(r); err != nil {
			x.outcome = metrics.OutcomeForbidden
			httpx.WriteError(w, r, http.StatusForbidden, "forbidden", "cross-origin request refused")
			return false
		}
	}
	return true
}

// authenticate finds the caller for mode. viaBearer tells which credential
// was used, for the shape of a refusal.
func (h *Handler) authenticate(r *http.Request, mode string) (id *auth.Identity, viaBearer bool, err error) {
	token, present, ok := httpx.BearerToken(r.Header)
	useBearer := mode == AuthJWT || (mode == AuthAny && present)
	if useBearer {
		switch {
		case !present:
			return nil, true, auth.ErrNoCredentials
		case !ok:
			return nil, true, &auth.Error{Kind: auth.ErrInvalid, Description: "malformed Authorization header"}
		case h.bearer == nil:
			return nil, true, &auth.Error{Kind: auth.ErrInvalid, Description: "no token issuer is configured"}
		}
		id, err = h.bearer.Verify(r.Context(), token)
		return id, true, err
	}
	if h.sessions == nil {
		return nil, false, auth.ErrNoCredentials
	}
	id, err = h.sessions.Authenticate(r)
	return id, false, err
}

// refuse answers a failed authentication per PRODUCT.md §3: RFC 6750
// challenges for Bearer, a login redirect for browser navigations, 503 when
// the store could not answer.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, x *exchange, viaBearer bool, err error) {
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		x.outcome = metrics.OutcomeUnavailable
		h.log.ErrorContext(r.Context(), "authentication unavailable", "request_id", x.requestID, "route", x.route.Name, "error", err)
		w.Header().Set("Retry-After", "1")
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "unavailable", "authentication is temporarily unavailable")
		return
	case errors.Is(err, auth.ErrRevoked):
		x.outcome = metrics.OutcomeRevoked
	default:
		x.outcome = metrics.OutcomeUnauthenticated
	}
	noCreds := errors.Is(err, auth.ErrNoCredentials)
	if x.route.Auth != AuthJWT && !viaBearer && isNavigation(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, loginURL(r), http.StatusFound)
		return
	}
	desc := auth.Describe(err)
	if desc == "" {
		desc = "authentication required"
	}
	if noCreds {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		httpx.WriteError(w, r, http.StatusUnauthorized, "unauthorized", desc)
		return
	}
	if viaBearer {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+quoteSafe(desc)+`"`)
		httpx.WriteError(w, r, http.StatusUnauthorized, "invalid_token", desc)
		return
	}
	httpx.WriteError(w, r, http.StatusUnauthorized, "unauthorized", desc)
}

// isNavigation reports a browser page load: GET or HEAD accepting HTML.
func isNavigation(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html")
}

func loginURL(r *http.Request) string {
	rd := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		rd += "?" + r.URL.RawQuery
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
