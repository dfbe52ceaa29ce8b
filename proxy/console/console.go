// Package console is the admin web console at /.gatehouse/admin/ on the
// proxy listener (README "Admin console and audit trail"): server-rendered
// pages over the admin operations that already exist (sessions, forced
// logout, revocations) and the audit trail. No script; every action is a
// POST with a CSRF token and from the console's own origin, and is an
// admin_action audit event naming the admin.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// Prefix is where the console lives.
const Prefix = proxy.ReservedPrefix + "admin/"

//go:embed templates
var files embed.FS

// Store is what the console needs from the store: the count of active
// sessions, a user's sessions, forced logout, revocations and the audit
// trail. auth.Store with auth.AuditLog and auth.SessionCounter satisfies
// it.
type Store interface {
	auth.RevocationStore
	auth.AuditLog
	auth.SessionCounter
	UserSessions(ctx context.Context, user, cursor string, limit int) ([]auth.SessionRecord, string, error)
	DeleteUserSessions(ctx context.Context, user string) (int, error)
	DeleteSession(ctx context.Context, key string) (bool, error)
}

// TokenVerifier verifies a pasted JWT with the configured keys, whether or
// not it is revoked.
type TokenVerifier interface {
	VerifyIgnoringRevocation(ctx context.Context, token string) (*auth.Identity, error)
}

// Options configures the console. Groups, Decider, Store and Pages are
// required.
type Options struct {
	// Groups are admin.console.groups: a signed-in user in any may use it.
	Groups []string
	// Networks are admin.console.networks; empty: any client.
	Networks []netip.Prefix
	// Decider answers who is calling (the session cookie; a Bearer token
	// is not accepted by the console).
	Decider *proxy.Decider
	Store   Store
	// Tokens verifies pasted tokens; nil: the token page says no keys are
	// configured.
	Tokens TokenVerifier
	// Users lists the local users' names for the search (the users files
	// as they are now); nil: exact names only.
	Users func() []string
	// Pages renders the 403 and error pages in the login page's look.
	Pages *pages.Set
	// Audit records every action (admin_action, with the admin as actor).
	Audit auth.Auditor
	// Metrics counts forced logouts and revocations as the admin API does.
	Metrics *metrics.Metrics
	// Secure sets the CSRF cookie's Secure attribute (and __Host- name).
	Secure bool
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Handler serves the console. Make it with New.
type Handler struct {
	o     Options
	tmpl  *template.Template
	style template.CSS
	csp   string
	mux   *http.ServeMux
}

// New returns the console handler.
func New(o Options) (*Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	css, err := files.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	t, err := template.New("console").Funcs(template.FuncMap{}).ParseFS(files, "templates/console.html")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	h := &Handler{
		o: o, tmpl: t, style: template.CSS(css),
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
	m := http.NewServeMux()
	m.HandleFunc("GET "+Prefix+"{$}", h.overview)
	m.HandleFunc("GET "+Prefix+"users", h.users)
	m.HandleFunc("GET "+Prefix+"users/{user}", h.user)
	m.HandleFunc("POST "+Prefix+"users/{user}/end-session", h.endSession)
	m.HandleFunc("POST "+Prefix+"users/{user}/end-all", h.endAll)
	m.HandleFunc("POST "+Prefix+"users/{user}/revoke-all", h.revokeAll)
	m.HandleFunc("GET "+Prefix+"tokens", h.tokens)
	m.HandleFunc("POST "+Prefix+"tokens", h.checkToken)
	m.HandleFunc("POST "+Prefix+"tokens/revoke", h.revokeToken)
	m.HandleFunc("GET "+Prefix+"events", h.events)
	h.mux = m
	return h, nil
}

// consoleRoute is the decision the console asks for: a session in one of
// the groups; a cookie write from another origin is refused.
func (h *Handler) route() proxy.Route {
	return proxy.Route{Name: metrics.RouteGatehouse, Auth: proxy.AuthSession, Require: proxy.Require{Groups: h.o.Groups}}
}

type adminKey struct{}

// ServeHTTP checks the network, the session and the groups, then serves
// the page. Every answer carries the pages' security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	if !h.allowedNetwork(httpx.ClientIP(r)) {
		h.o.Pages.SetHeaders(hd)
		h.o.Pages.WriteError(w, r, http.StatusForbidden, "forbidden", "The admin console is not available from your network.")
		return
	}
	d := h.o.Decider.Decide(r.Context(), proxy.Describe(r), h.route())
	if !d.Allowed() || d.ViaBearer || d.Identity == nil {
		h.refuse(w, r, d)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), adminKey{}, d.Identity.User))
	hd.Set("Content-Security-Policy", h.csp)
	h.mux.ServeHTTP(w, r)
}

// refuse answers a request the decision did not allow: the login page
// for a browser without a session (also for a POST whose session has
// ended since the page was shown), the 403 page, or the decision's error.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, d proxy.Decision) {
	h.o.Pages.SetHeaders(w.Header())
	switch {
	case d.Allowed() && d.ViaBearer:
		h.o.Pages.WriteError(w, r, http.StatusForbidden, "forbidden", "The admin console needs a browser session, not a Bearer token.")
	case d.Status == http.StatusFound:
		for k, v := range d.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(http.StatusFound)
	case d.Status == http.StatusUnauthorized && r.Method == http.MethodPost:
		// A form posted after the session ended: sign in again, then
		// back to the console (the action is not replayed).
		http.Redirect(w, r, "/.gatehouse/login?rd="+urlQueryEscape(Prefix), http.StatusSeeOther)
	case d.Status == http.StatusForbidden && d.Description == "cross-origin request refused":
		h.o.Pages.WriteError(w, r, http.StatusForbidden, "forbidden", "Cross-origin request refused.")
	case d.Status == http.StatusForbidden:
		h.o.Pages.WriteError(w, r, http.StatusForbidden, "forbidden", "Your account is not in a group allowed to use the admin console.")
	default:
		for k, v := range d.Header {
			w.Header()[k] = v
		}
		status := d.Status
		if status == 0 {
			status = http.StatusUnauthorized
		}
		h.o.Pages.WriteError(w, r, status, d.Code, d.Description)
	}
}

func (h *Handler) allowedNetwork(ip netip.Addr) bool {
	if len(h.o.Networks) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range h.o.Networks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// admin is the signed-in admin's name (ServeHTTP put it in the context).
func admin(r *http.Request) string {
	s, _ := r.Context().Value(adminKey{}).(string)
	return s
}

// render writes one page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Style, p.Admin = h.style, admin(r)
	if p.CSRF == "" {
		p.CSRF = h.csrfToken(w, r)
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		h.o.Logger.Error("console page failed", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// unavailable answers a store failure with the error page.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.o.Logger.Error("console: store unavailable", "request_id", httpx.RequestID(r), "error", err)
	h.o.Pages.SetHeaders(w.Header())
	h.o.Pages.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "The store could not answer; try again.")
}

// record writes the admin_action event of an action and its log line.
func (h *Handler) record(r *http.Request, user, detail string) {
	h.o.Logger.Info("admin console action", "event", "admin_action", "actor", httpx.Clip(admin(r)),
		"user", httpx.Clip(user), "detail", detail, "client_ip", httpx.ClientIP(r).String(), "request_id", httpx.RequestID(r))
	auth.Audit(r.Context(), h.o.Audit, auth.AuditEvent{
		Kind: auth.AuditAdminAction, User: user, Actor: admin(r), IP: httpx.ClientIP(r).String(),
		Detail: detail, RequestID: httpx.RequestID(r),
	})
}

func (h *Handler) countRevocations(kind string, n int) {
	if h.o.Metrics != nil && n > 0 {
		h.o.Metrics.Revocations.WithLabelValues(kind).Add(float64(n))
	}
}
