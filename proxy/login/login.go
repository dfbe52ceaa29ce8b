package login

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

// Reserved paths served by the handler.
const (
	LoginPath    = httpx.ReservedPrefix + "login"
	LogoutPath   = httpx.ReservedPrefix + "logout"
	UserinfoPath = httpx.ReservedPrefix + "userinfo"
)

// maxFormBytes bounds a login or logout form body.
const maxFormBytes = 16 << 10

// Messages shown on the pages. The bad-credentials message is the same for
// an unknown user and a wrong password.
const (
	msgBadCredentials = "Invalid username or password."
	msgCSRF           = "Your sign-in form expired. Please try again."
	msgUnavailable    = "Sign-in is temporarily unavailable. Please try again in a moment." // the 503 page's text
)

// Options configures the handler. Sessions and Users are required.
type Options struct {
	// Sessions starts and ends sessions. Must not be nil.
	Sessions *session.Manager
	// Users checks passwords. Must not be nil.
	Users passwords.Checker
	// Limiter counts attempts and bounds password checks (shared with the
	// password grant); nil means no limit.
	Limiter *passwords.Limiter
	// Decider answers /.gatehouse/userinfo (auth: any, a Bearer token or
	// the session cookie), the proxy's one decision; nil means a Decider
	// with Sessions alone (a Bearer token is refused).
	Decider *proxy.Decider
	// Title is shown on the pages; "" means "Sign in". Ignored when Pages
	// is set.
	Title string
	// Pages renders the sign-in, sign-out and error pages; nil means the
	// built-in templates with Title.
	Pages *pages.Set
	// Secure sets the CSRF cookie's Secure attribute (and its __Host- name).
	Secure bool
	// Metrics counts gatehouse_logins_total; nil means not counted.
	Metrics *metrics.Metrics
	// Logger receives audit lines; nil discards them.
	Logger *slog.Logger
	// Audit keeps the audit events (login, login_failure, logout) beside
	// the audit lines; nil keeps none.
	Audit auth.Auditor
	// Now is the clock of the rule that logs repeated refusals from one
	// client once a minute; nil means time.Now.
	Now func() time.Time
	// External adds the OIDC providers' buttons to the login page and
	// RP-initiated logout; nil means none.
	External External
	// NoPassword leaves the password form out (no local users).
	NoPassword bool
	// AutoRedirect (login.auto_redirect) sends the login page straight to
	// the one provider when NoPassword is set.
	AutoRedirect bool
}

type handler struct {
	o    Options
	logs *httpx.LogLimiter // refusals: one line per kind and client a minute
}

// New returns the handler for the reserved paths under /.gatehouse/ that it
// owns (login, logout, userinfo); every other path under the prefix is a
// JSON 404. POSTs that a browser marks cross-origin are refused with 403 by
// http.CrossOriginProtection. Safe for concurrent use. It returns an error
// if o.Sessions or o.Users is nil.
func New(o Options) (http.Handler, error) {
	if o.Sessions == nil || o.Users == nil {
		return nil, errors.New("login: Sessions and Users are required")
	}
	if o.Decider == nil {
		o.Decider = proxy.NewDecider(proxy.DeciderOptions{Sessions: o.Sessions})
	}
	if o.Pages == nil {
		p, err := pages.New(pages.Options{Title: o.Title})
		if err != nil {
			return nil, fmt.Errorf("login: built-in pages: %w", err)
		}
		o.Pages = p
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{o: o, logs: httpx.NewLogLimiter(o.Logger, o.Now)}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, http.StatusForbidden, "forbidden", "cross-origin request refused")
	}))
	// Other paths are a JSON 404, other methods a JSON 405 (httpx.Mux).
	mux := new(httpx.Mux)
	mux.HandleFunc("GET "+LoginPath, func(w http.ResponseWriter, r *http.Request) {
		h.loginPage(w, r, http.StatusOK, "", SafeRedirect(r.URL.Query().Get("rd")))
	})
	mux.HandleFunc("POST "+LoginPath, h.login)
	mux.HandleFunc("GET "+LogoutPath, func(w http.ResponseWriter, r *http.Request) {
		h.logoutPage(w, r, http.StatusOK, "")
	})
	mux.HandleFunc("POST "+LogoutPath, h.logout)
	mux.HandleFunc("GET "+UserinfoPath, h.userinfo)
	inner := cop.Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.Pages.SetHeaders(w.Header())
		inner.ServeHTTP(w, r)
	}), nil
}

// parseForm reads a bounded form body; false means the answer is written.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "malformed form")
		return false
	}
	return true
}

// login checks, in order: the CSRF token, the rate limits, the password.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	rd := SafeRedirect(r.PostFormValue("rd"))
	if !h.checkCSRF(r) {
		h.loginPage(w, r, http.StatusForbidden, msgCSRF, rd)
		return
	}
	user, password := r.PostFormValue("username"), r.PostFormValue("password")
	ip := httpx.ClientIP(r)
	log := h.o.Logger.With("user", httpx.Clip(user), "client_ip", ip.String(), "request_id", httpx.RequestID(r))
	res := h.o.Limiter.Check(r.Context(), h.o.Users, user, password, ip)
	switch res.Outcome {
	case passwords.Limited, passwords.Busy:
		h.count("rate_limited")
		h.refused(log, "login rate limited", ip, "result", "rate_limited", "busy", res.Outcome == passwords.Busy)
		w.Header().Set("Retry-After", res.RetryAfterSeconds())
		h.loginPage(w, r, http.StatusTooManyRequests, rateLimitedMessage(res.RetryAfter), rd)
		return
	case passwords.Unavailable:
		h.count("error")
		log.Error("login failed: attempt not counted", "event", "login", "result", "error", "error", res.Err)
		h.unavailablePage(w, r)
		return
	case passwords.Failed:
		h.count("failure")
		h.refused(log, "login failed", ip, "result", "failure")
		h.audit(r, auth.AuditLoginFailure, user, "password")
		h.loginPage(w, r, http.StatusUnauthorized, msgBadCredentials, rd)
		return
	}
	u := res.User
	if err := h.o.Sessions.Login(r.Context(), w, r, u); err != nil {
		h.count("error")
		log.Error("login failed: session not stored", "event", "login", "result", "error", "error", err)
		h.unavailablePage(w, r)
		return
	}
	h.count("success")
	log.Info("login succeeded", "event", "login", "result", "success")
	h.audit(r, auth.AuditLogin, u.Username, "password")
	w.Header().Set("Location", rd)
	w.WriteHeader(http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	if !h.checkCSRF(r) {
		h.logoutPage(w, r, http.StatusForbidden, msgCSRF)
		return
	}
	user := ""
	if id, err := h.o.Sessions.Authenticate(r); err == nil {
		user = id.User
	}
	next := h.endSession(r)
	log := h.o.Logger.With("user", httpx.Clip(user), "client_ip", httpx.ClientIP(r).String(), "request_id", httpx.RequestID(r))
	if err := h.o.Sessions.Logout(r.Context(), w, r); err != nil {
		log.Error("logout failed: session not deleted", "event", "logout", "error", err)
		h.unavailablePage(w, r)
		return
	}
	log.Info("logout", "event", "logout")
	if user != "" {
		h.audit(r, auth.AuditLogout, user, "")
	}
	if next == "" {
		next = LoginPath + "?" + signedOutQuery + "=1"
	}
	w.Header().Set("Location", next)
	w.WriteHeader(http.StatusSeeOther)
}

// userinfoBody is the JSON of GET /.gatehouse/userinfo.
type userinfoBody struct {
	User      string   `json:"user"`
	Email     string   `json:"email"`
	Groups    []string `json:"groups"`
	Method    string   `json:"method"`
	ExpiresAt int64    `json:"expires_at"`
	Provider  string   `json:"provider,omitempty"` // the OIDC provider of an external session
}

// userinfoRoute is what userinfo asks of the caller: any credential, no
// requirement.
var userinfoRoute = proxy.Route{Name: metrics.RouteGatehouse, Auth: proxy.AuthAny}

// userinfo renders the decision in its own shape: 503 or 401 with its own
// codes, else the identity.
func (h *handler) userinfo(w http.ResponseWriter, r *http.Request) {
	d := h.o.Decider.Decide(r.Context(), proxy.Describe(r), userinfoRoute)
	switch {
	case d.Outcome == metrics.OutcomeUnavailable:
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "authentication unavailable")
		return
	case !d.Allowed() || d.Identity == nil:
		httpx.WriteError(w, r, http.StatusUnauthorized, "unauthenticated", "no valid session or token")
		return
	}
	id := d.Identity
	groups := id.Groups
	if groups == nil {
		groups = []string{}
	}
	var exp int64
	if !id.ExpiresAt.IsZero() {
		exp = id.ExpiresAt.Unix()
	}
	httpx.WriteJSON(w, http.StatusOK, userinfoBody{
		User: id.User, Email: id.Email, Groups: groups, Method: id.Method, ExpiresAt: exp,
		Provider: sessionProvider(id),
	})
}

// refused writes a refusal's audit line, at most one a minute per kind
// and client (with the count of those held back since).
func (h *handler) refused(log *slog.Logger, msg string, ip netip.Addr, args ...any) {
	h.logs.Warn(log, msg, ip, append([]any{"event", "login"}, args...)...)
}

// audit records one event of the request's client.
func (h *handler) audit(r *http.Request, kind, user, detail string) {
	auth.Audit(r.Context(), h.o.Audit, auth.AuditEvent{
		Kind: kind, User: user, IP: httpx.ClientIP(r).String(), Detail: detail, RequestID: httpx.RequestID(r),
	})
}

func (h *handler) count(result string) { h.o.Metrics.CountLogin(result) }
