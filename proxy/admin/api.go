package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// APIStore is what the admin API needs from the store: the revocation list
// and the session methods used for listing and forced logout. auth.Store
// satisfies it.
type APIStore interface {
	auth.RevocationStore
	// UserSessions lists one page of the user's live sessions (see
	// auth.SessionStore).
	UserSessions(ctx context.Context, user, cursor string, limit int) ([]auth.SessionRecord, string, error)
	// DeleteUserSessions ends every session of the user in one step and
	// returns how many were live.
	DeleteUserSessions(ctx context.Context, user string) (int, error)
	// DeleteSession removes one session; false when it did not exist.
	DeleteSession(ctx context.Context, key string) (bool, error)
}

// APIOptions configures the /admin/* API. Token and Store are required.
type APIOptions struct {
	// Token is the bearer token every call must carry (admin.token_file).
	// It must not be empty: NewAPI refuses rather than serve an open API.
	Token []byte
	// Store holds revocations and sessions. Must not be nil.
	Store APIStore
	// Metrics counts revocations (gatehouse_revocations_total). Nil: not
	// counted.
	Metrics *metrics.Metrics
	// Logger receives one audit line per call. Nil: discarded.
	Logger *slog.Logger
	// Now is the clock for subject revocations and exp checks. Nil:
	// time.Now.
	Now func() time.Time
	// Tokens verifies the JWT of a {"token": …} revocation. Nil: such a
	// revocation is refused (400).
	Tokens TokenVerifier
	// Audit records each successful revocation and forced logout as an
	// audit event (actor ActorAPI). Nil: none.
	Audit auth.Auditor
	// AuditLog serves GET /admin/audit. Nil: that endpoint answers 404.
	AuditLog auth.AuditLog
}

// ActorAPI is the actor of the audit events of admin API calls (the
// holder of admin.token_file).
const ActorAPI = "admin-api"

// maxBody bounds a request body on the admin API.
const maxBody = 64 << 10

// api serves /admin/*. It is safe for concurrent use.
type api struct {
	tokenSum [sha256.Size]byte
	store    APIStore
	m        *metrics.Metrics
	log      *slog.Logger
	now      func() time.Time
	tokens   TokenVerifier // nil: {"token": …} refused
	auditor  auth.Auditor  // nil: no events
	auditLog auth.AuditLog // nil: GET /admin/audit is 404
	mux      *httpx.Mux    // an authorized call's routes; the call is in the request's context
}

// NewAPI returns the /admin/* handler of README "The admin API", for admin.New's
// Options.API. Every call must carry `Authorization: Bearer <Token>`; a
// token anywhere in the query string is refused. Every call is written as
// one audit log line, which never holds the token. The handler is safe for
// concurrent use. NewAPI returns an error if o.Token is empty or o.Store is
// nil.
func NewAPI(o APIOptions) (http.Handler, error) {
	if len(o.Token) == 0 {
		return nil, errors.New("admin: Token is required (an empty one would open the API to anyone)")
	}
	if o.Store == nil {
		return nil, errors.New("admin: Store is required")
	}
	a := &api{tokenSum: sha256.Sum256(o.Token), store: o.Store, m: o.Metrics, log: o.Logger, now: o.Now, tokens: o.Tokens,
		auditor: o.Audit, auditLog: o.AuditLog}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.mux = &httpx.Mux{Refuse: refuse}
	a.mux.HandleFunc("POST /admin/revoke", a.serve(a.revoke))
	a.mux.HandleFunc("GET /admin/sessions", a.serve(a.listSessions))
	a.mux.HandleFunc("DELETE /admin/sessions", a.serve(a.deleteUserSessions))
	a.mux.HandleFunc("DELETE /admin/sessions/{id}", a.serve(func(c *call) { a.deleteSession(c, c.r.PathValue("id")) }))
	if a.auditLog != nil {
		a.mux.HandleFunc("GET /admin/audit", a.serve(a.listAudit))
	}
	return a, nil
}

// call is one admin API exchange: what it did, for the audit line, and how
// it was answered.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	action string
	attrs  []slog.Attr
	status int
	cause  error // for the log only
	// event, when its Kind is set, is recorded once the call succeeded.
	event auth.AuditEvent
}

func (c *call) set(attrs ...slog.Attr) { c.attrs = append(c.attrs, attrs...) }

func (c *call) ok(v any) {
	c.status = http.StatusOK
	httpx.WriteJSON(c.w, http.StatusOK, v)
}

func (c *call) fail(status int, code, description string) {
	c.status = status
	httpx.WriteError(c.w, c.r, status, code, description)
}

// unavailable answers 503 for a store that could not answer.
func (c *call) unavailable(err error) {
	c.cause = err
	c.fail(http.StatusServiceUnavailable, "store_unavailable", "the store could not answer; try again")
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := httpx.KeepOrNewRequestID(r.Header.Get(httpx.RequestIDHeader))
	w.Header().Set(httpx.RequestIDHeader, rid)
	// The admin listener trusts no proxy headers: the client is the peer.
	r = r.WithContext(httpx.WithRequestInfo(r.Context(), rid, httpx.PeerAddr(r.RemoteAddr)))
	c := &call{w: w, r: r, action: "unknown"}
	defer a.audit(c)
	if reason := a.authorize(r); reason != "" {
		c.action = "unauthorized"
		c.set(slog.String("reason", reason))
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
		c.fail(http.StatusUnauthorized, "unauthorized", reason)
		return
	}
	a.route(c)
}

// authorize returns why r may not use the API, or "" when it may. The
// token is compared in constant time (through fixed-length digests, so
// its length does not leak either).
func (a *api) authorize(r *http.Request) string {
	q := r.URL.Query()
	if q.Has("token") || q.Has("access_token") {
		return "a token in the query string is refused; send Authorization: Bearer <token>"
	}
	tok, present, ok := httpx.BearerToken(r.Header)
	if !present {
		return "missing Authorization: Bearer <admin token>"
	}
	if !ok {
		return "want exactly one Authorization: Bearer <admin token>"
	}
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) != 1 {
		return "wrong admin token"
	}
	return ""
}

type callKey struct{}

// route dispatches an authorized call by path and method (a.mux).
func (a *api) route(c *call) {
	c.r = c.r.WithContext(context.WithValue(c.r.Context(), callKey{}, c))
	a.mux.ServeHTTP(c.w, c.r)
}

// serve adapts a method of the API to a.mux: the call comes in the
// request's context (route put it there).
func (a *api) serve(fn func(*call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(callKey{}).(*call)
		c.r = r // with the pattern's path values
		fn(c)
	}
}

// refuse answers a call that no route matches: 404, or 405 with the
// Allow header a.mux has set.
func refuse(w http.ResponseWriter, r *http.Request, status int) {
	c := r.Context().Value(callKey{}).(*call)
	if status == http.StatusMethodNotAllowed {
		c.fail(status, "method_not_allowed", "use "+orList(strings.Split(w.Header().Get("Allow"), ", ")))
		return
	}
	c.fail(http.StatusNotFound, "not_found", "no such admin endpoint; see POST /admin/revoke and /admin/sessions")
}

// orList joins ["A", "B", "C"] as "A, B or C".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// audit writes the call's audit line: never the token, a cookie or a
// session ID (a session appears by its admin handle only).
func (a *api) audit(c *call) {
	attrs := []slog.Attr{
		slog.String("action", c.action),
		slog.Int("status", c.status),
		slog.String("client_ip", ipString(httpx.ClientIP(c.r))),
		slog.String("request_id", httpx.RequestID(c.r)),
	}
	attrs = append(attrs, c.attrs...)
	level := slog.LevelInfo
	switch {
	case c.status >= 500:
		level = slog.LevelError
	case c.status >= 400:
		level = slog.LevelWarn
	}
	if c.cause != nil {
		attrs = append(attrs, slog.String("error", c.cause.Error()))
	}
	a.log.LogAttrs(c.r.Context(), level, "admin audit", attrs...)
	if c.event.Kind != "" && c.status == http.StatusOK {
		e := c.event
		e.Actor, e.IP, e.RequestID = ActorAPI, ipString(httpx.ClientIP(c.r)), httpx.RequestID(c.r)
		auth.Audit(c.r.Context(), a.auditor, e)
	}
}

func (a *api) countRevocations(kind string, n int) {
	if a.m != nil && n > 0 {
		a.m.Revocations.WithLabelValues(kind).Add(float64(n))
	}
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
