// Package oidclogin serves the browser side of sign-in at external OpenID
// Providers (PRODUCT.md §9): /.gatehouse/oidc/start, /callback and
// /backchannel-logout, and the login page's provider buttons and
// RP-initiated logout. The protocol is auth/oidc; sessions are
// auth/session's, so forced logout, the admin API and revocation apply
// unchanged.
package oidclogin

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/proxy/login"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// Pre-auth cookie names: the __Secure- form when cookies are Secure. The
// cookie's Path is CookiePath, so that it never reaches the upstream (a
// __Host- cookie would need Path=/).
const (
	CookieName       = "gatehouse_oidc"
	CookieNameSecure = "__Secure-gatehouse_oidc"
	CookiePath       = "/.gatehouse/oidc/"
)

// maxFormBytes bounds a back-channel logout body.
const maxFormBytes = 64 << 10

// Options configures the handler. Providers, Sessions, Store and Pages are
// required.
type Options struct {
	Providers []*oidc.Provider
	Sessions  *session.Manager
	// Store keeps the sign-ins in progress (the providers' own store).
	Store auth.SessionStore
	Pages *pages.Set
	// Secure sets the pre-auth cookie's Secure attribute and __Host- name.
	Secure  bool
	Metrics *metrics.OIDC
	// Logger receives audit lines (login, backchannel_logout); nil
	// discards them.
	Logger *slog.Logger
	// Audit keeps the audit events (login, login_failure for a denied
	// sign-in, backchannel_logout) beside the lines; nil: none.
	Audit auth.Auditor
}

// Handler serves the /.gatehouse/oidc/ endpoints. Make it with New.
type Handler struct {
	o      Options
	byName map[string]*oidc.Provider
}

// New returns the handler. It panics without Sessions, Store or Pages.
func New(o Options) *Handler {
	if o.Sessions == nil || o.Store == nil || o.Pages == nil {
		panic("oidclogin.New: Sessions, Store and Pages are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, byName: map[string]*oidc.Provider{}}
	for _, p := range o.Providers {
		h.byName[p.Name()] = p
	}
	return h
}

// CookieName is the pre-auth cookie's name (strip it before the upstream).
func (h *Handler) CookieName() string {
	if h.o.Secure {
		return CookieNameSecure
	}
	return CookieName
}

// ServeHTTP routes the three endpoints; other paths are a JSON 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case r.URL.Path == oidc.StartPath && get:
		h.o.Pages.SetHeaders(w.Header())
		h.start(w, r)
	case r.URL.Path == oidc.CallbackPath && get:
		h.o.Pages.SetHeaders(w.Header())
		h.callback(w, r)
	case r.URL.Path == oidc.BackchannelPath && r.Method == http.MethodPost:
		h.backchannel(w, r)
	case r.URL.Path == oidc.StartPath || r.URL.Path == oidc.CallbackPath:
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "")
	case r.URL.Path == oidc.BackchannelPath:
		w.Header().Set("Allow", "POST")
		httpx.WriteError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "")
	default:
		httpx.WriteError(w, r, http.StatusNotFound, "not_found", "")
	}
}

// StartURL is the start endpoint's URL for a provider and rd.
func StartURL(provider, rd string) string {
	return oidc.StartPath + "?" + url.Values{"provider": {provider}, "rd": {rd}}.Encode()
}

// Buttons are the login page's provider buttons for rd.
func (h *Handler) Buttons(rd string) []pages.Provider {
	out := make([]pages.Provider, 0, len(h.o.Providers))
	for _, p := range h.o.Providers {
		out = append(out, pages.Provider{Name: p.Name(), Title: p.Title(), URL: StartURL(p.Name(), rd)})
	}
	return out
}

// start: GET /.gatehouse/oidc/start?provider=NAME&rd=PATH → 302 to the IdP.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, rd := q.Get("provider"), login.SafeRedirect(q.Get("rd"))
	p, ok := h.byName[name]
	if !ok {
		h.o.Pages.WriteSignInError(w, r, http.StatusNotFound, "not_found", "no identity provider of that name is configured", login.LoginPath)
		return
	}
	b, err := p.Begin(r.Context(), rd, h.redirectURL(p, r))
	if err != nil {
		h.fail(w, r, p.Name(), rd, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.CookieName(), Value: b.State, Path: h.cookiePath(), MaxAge: int(oidc.PreAuthTTL.Seconds()),
		HttpOnly: true, Secure: h.o.Secure, SameSite: http.SameSiteLaxMode, // Lax: the IdP's redirect back is a top-level GET
	})
	http.Redirect(w, r, b.URL, http.StatusFound)
}

func (h *Handler) cookiePath() string { return CookiePath }

func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: h.CookieName(), Value: "", Path: h.cookiePath(), MaxAge: -1,
		HttpOnly: true, Secure: h.o.Secure, SameSite: http.SameSiteLaxMode})
}

// redirectURL is the provider's redirect_url, else
// https://<request host>/.gatehouse/oidc/callback.
func (h *Handler) redirectURL(p *oidc.Provider, r *http.Request) string {
	if u := p.Config().RedirectURL; u != "" {
		return u
	}
	return "https://" + r.Host + oidc.CallbackPath
}

// callback: GET /.gatehouse/oidc/callback?state=…&code=… (or error=…).
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var cookieState string
	if c, err := r.Cookie(h.CookieName()); err == nil {
		cookieState = c.Value
	}
	h.clearCookie(w)
	pa, err := oidc.TakePreAuth(r.Context(), h.o.Store, cookieState, q.Get("state"))
	if err != nil {
		h.fail(w, r, metrics.ProviderUnknown, "/", err)
		return
	}
	p, ok := h.byName[pa.Provider]
	if !ok { // the provider left the config during the sign-in
		h.fail(w, r, metrics.ProviderUnknown, pa.Redirect, &oidc.Error{Kind: oidc.KindInvalid, Description: "the identity provider of this sign-in is no longer configured"})
		return
	}
	if e := q.Get("error"); e != "" {
		kind := oidc.KindInvalid
		desc := "the identity provider refused the sign-in"
		if e == "access_denied" {
			kind, desc = oidc.KindDenied, "the identity provider denied access"
		}
		h.fail(w, r, p.Name(), pa.Redirect, &oidc.Error{Kind: kind, Description: desc, Cause: errors.New(httpx.Clip(e))})
		return
	}
	in, err := p.Finish(r.Context(), pa, q.Get("code"))
	if err != nil {
		h.fail(w, r, p.Name(), pa.Redirect, err)
		return
	}
	if err := h.o.Sessions.LoginExternal(r.Context(), w, r, in.External); err != nil {
		h.fail(w, r, p.Name(), pa.Redirect, &oidc.Error{Kind: oidc.KindUnavailable, Description: "sign-in is temporarily unavailable", Cause: err})
		return
	}
	h.o.Metrics.CountLogin(p.Name(), "success")
	log := h.o.Logger.With("user", httpx.Clip(in.User), "provider", p.Name(), "client_ip", httpx.ClientIP(r).String(), "request_id", httpx.RequestID(r))
	if in.RefreshToken == "" && p.Config().Revalidate > 0 {
		log.Info("oidc sign-in without a refresh token: the session lives by its timeouts", "event", "login")
	}
	log.Info("login succeeded", "event", "login", "method", "oidc", "result", "success")
	h.audit(r, auth.AuditLogin, in.User, "oidc provider "+p.Name())
	w.Header().Set("Location", pa.Redirect)
	w.WriteHeader(http.StatusSeeOther)
}

// fail answers a failed sign-in step with its error page (linking to
// start again) and counts it.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, provider, rd string, err error) {
	e := oidc.AsError(err)
	status := e.Status()
	h.o.Metrics.CountLogin(provider, e.Result())
	lvl := slog.LevelInfo
	if status >= 500 {
		lvl = slog.LevelError
	}
	h.o.Logger.Log(r.Context(), lvl, "oidc sign-in failed", "event", "login", "method", "oidc", "provider", provider,
		"result", e.Result(), "status", status, "client_ip", httpx.ClientIP(r).String(), "request_id", httpx.RequestID(r), "error", e.Error())
	if e.Result() == "denied" {
		// Only a sign-in the provider completed and Gatehouse refused is
		// kept: a forged callback must not fill the audit trail.
		h.audit(r, auth.AuditLoginFailure, "", "oidc provider "+provider+": "+e.Description)
	}
	again := login.LoginPath + "?" + url.Values{"rd": {login.SafeRedirect(rd)}}.Encode()
	if _, ok := h.byName[provider]; ok {
		again = StartURL(provider, login.SafeRedirect(rd))
	}
	code := map[int]string{400: "invalid_request", 403: "access_denied", 404: "not_found", 502: "bad_gateway", 503: "temporarily_unavailable"}[status]
	h.o.Pages.WriteSignInError(w, r, status, code, e.Description, again)
}

// EndSessionURL, for a logout, is where to send the browser after the
// request's session is deleted: the IdP's end-session endpoint for an
// OIDC session of a provider with end_session, else "". Call it before
// deleting the session.
func (h *Handler) EndSessionURL(r *http.Request) string {
	rec, err := h.o.Sessions.Record(r)
	if err != nil || rec.Provider == "" {
		return ""
	}
	p, ok := h.byName[rec.Provider]
	if !ok {
		return ""
	}
	origin := "https://" + r.Host
	if u, err := url.Parse(p.Config().RedirectURL); err == nil && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	return p.EndSessionURL(rec.IDToken, origin+login.LoginPath)
}

// AutoRedirect is the start URL when the login page should send the
// browser straight to the one provider (login.auto_redirect, exactly one
// provider, no local users), else "".
func (h *Handler) AutoRedirect(rd string) string {
	if len(h.o.Providers) != 1 {
		return ""
	}
	return StartURL(h.o.Providers[0].Name(), rd)
}

// providersFor lists the providers whose issuer is iss (two may share it).
func (h *Handler) providersFor(iss string) []*oidc.Provider {
	var out []*oidc.Provider
	for _, p := range h.o.Providers {
		if iss != "" && strings.TrimSuffix(p.Issuer(), "/") == strings.TrimSuffix(iss, "/") {
			out = append(out, p)
		}
	}
	return out
}

// audit records one event of the request's client.
func (h *Handler) audit(r *http.Request, kind, user, detail string) {
	auth.Audit(r.Context(), h.o.Audit, auth.AuditEvent{
		Kind: kind, User: user, IP: httpx.ClientIP(r).String(), Detail: detail, RequestID: httpx.RequestID(r),
	})
}
