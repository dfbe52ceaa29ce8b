package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/refresh"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

// Paths served by the handler.
const (
	TokenPath  = httpx.ReservedPrefix + "token"
	RevokePath = httpx.ReservedPrefix + "revoke"
	JWKSPath   = httpx.ReservedPrefix + "jwks.json"
)

// MaxBodyBytes bounds a token or revocation request body; larger ones are
// answered 413.
const MaxBodyBytes = 64 << 10

// JWKSCacheControl is the Cache-Control of the JWKS: verifiers may keep it
// five minutes, so a new key should be published (as a previous key) that
// long before it signs.
const JWKSCacheControl = "public, max-age=300"

// Options configures the handler. Service, Keys and Users are required.
type Options struct {
	Service *refresh.Service
	// Keys is the public key set published at JWKSPath (current and
	// previous issuing keys).
	Keys jwk.Set
	// Users checks the password grant's credentials.
	Users passwords.Checker
	// Limiter is the login form's limiter, shared so that the form and the
	// password grant count attempts and share the bound on password
	// checks; nil: no limit.
	Limiter *passwords.Limiter
	// Metrics counts gatehouse_logins_total; nil: not counted.
	Metrics *metrics.Metrics
	// Logger receives audit lines (never a password or token); nil discards.
	Logger *slog.Logger
	// Audit keeps the audit events (login, login_failure, revocation)
	// beside the audit lines; the refresh_reuse event is the Service's.
	// Nil: none.
	Audit auth.Auditor
	// Now is the clock of the rule that logs repeated refusals from one
	// client once a minute; nil: time.Now.
	Now func() time.Time
}

type handler struct {
	o    Options
	jwks []byte
	logs *httpx.LogLimiter // refusals: one line per kind and client a minute
}

// New returns the handler for TokenPath, RevokePath and JWKSPath; any
// other path is a JSON 404. It is safe for concurrent use; a config reload
// builds a new one (new keys, new service).
func New(o Options) (http.Handler, error) {
	if o.Service == nil || o.Keys == nil || o.Users == nil {
		return nil, errors.New("tokens: Service, Keys and Users are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	jwks, err := json.Marshal(o.Keys)
	if err != nil {
		return nil, fmt.Errorf("tokens: encode JWKS: %w", err)
	}
	h := &handler{o: o, jwks: jwks, logs: httpx.NewLogLimiter(o.Logger, o.Now)}
	// RFC 6749 §5.2 has no code for a wrong method: a 405 (with the Allow
	// header httpx.Mux sets) is an invalid_request.
	mux := &httpx.Mux{Refuse: func(w http.ResponseWriter, r *http.Request, status int) {
		if status == http.StatusMethodNotAllowed {
			httpx.WriteError(w, r, status, "invalid_request", "method not allowed")
			return
		}
		httpx.WriteError(w, r, status, "not_found", "")
	}}
	mux.HandleFunc("POST "+TokenPath, h.token)
	mux.HandleFunc("POST "+RevokePath, h.revoke)
	mux.HandleFunc("GET "+JWKSPath, h.serveJWKS)
	return mux, nil
}

func (h *handler) serveJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", JWKSCacheControl)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(h.jwks)
}

// tokenResponse is RFC 6749 §5.1's successful answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func (h *handler) token(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	r = r.WithContext(auth.WithAuditClient(r.Context(), auth.AuditClient{
		IP: httpx.ClientIP(r).String(), RequestID: httpx.RequestID(r),
	}))
	switch form.Get("grant_type") {
	case "":
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "grant_type is required")
	case "password":
		h.passwordGrant(w, r, form)
	case "refresh_token":
		h.refreshGrant(w, r, form)
	default:
		httpx.WriteError(w, r, http.StatusBadRequest, "unsupported_grant_type", "supported: password, refresh_token")
	}
}

func (h *handler) passwordGrant(w http.ResponseWriter, r *http.Request, form formValues) {
	user, password := form.Get("username"), form.Get("password")
	if user == "" || password == "" {
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	ip := httpx.ClientIP(r)
	log := h.o.Logger.With("event", "login", "method", "password_grant", "user", httpx.Clip(user),
		"client_ip", ip.String(), "request_id", httpx.RequestID(r))
	res := h.o.Limiter.Check(r.Context(), h.o.Users, user, password, ip)
	switch res.Outcome {
	case passwords.Limited, passwords.Busy:
		h.count("rate_limited")
		h.refused(log, "login rate limited", ip, "result", "rate_limited", "busy", res.Outcome == passwords.Busy)
		w.Header().Set("Retry-After", res.RetryAfterSeconds())
		httpx.WriteError(w, r, http.StatusTooManyRequests, "slow_down", "too many failed attempts; retry later")
		return
	case passwords.Unavailable:
		h.count("error")
		log.Error("login failed: attempt not counted", "result", "error", "error", res.Err)
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "token service unavailable")
		return
	case passwords.Failed:
		h.count("failure")
		h.refused(log, "login failed", ip, "result", "failure")
		h.audit(r, auth.AuditLoginFailure, user, "password grant")
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_grant", "invalid username or password")
		return
	}
	u := res.User
	g, err := h.o.Service.Issue(r.Context(), refresh.User{Name: u.Username, Email: u.Email, Groups: u.Groups})
	if err != nil {
		h.count("error")
		log.Error("login failed: tokens not issued", "result", "error", "error", err)
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "token service unavailable")
		return
	}
	h.count("success")
	log.Info("login succeeded", "result", "success")
	h.audit(r, auth.AuditLogin, u.Username, "password grant")
	writeGrant(w, g)
}

func (h *handler) refreshGrant(w http.ResponseWriter, r *http.Request, form formValues) {
	tok := form.Get("refresh_token")
	if tok == "" {
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	g, err := h.o.Service.Refresh(r.Context(), tok)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		h.o.Logger.Error("refresh failed", "request_id", httpx.RequestID(r), "error", err)
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "token service unavailable")
		return
	case errors.Is(err, auth.ErrRevoked):
		h.o.Logger.Warn("refresh token reused; grant revoked", "event", "revocation", "kind", "family",
			"client_ip", httpx.ClientIP(r).String(), "request_id", httpx.RequestID(r))
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_grant", auth.Describe(err))
		return
	case err != nil:
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_grant", auth.Describe(err))
		return
	}
	writeGrant(w, g)
}

func writeGrant(w http.ResponseWriter, g refresh.Grant) {
	w.Header().Set("Pragma", "no-cache")
	httpx.WriteJSON(w, http.StatusOK, tokenResponse{
		AccessToken: g.AccessToken, TokenType: "Bearer",
		ExpiresIn: int64(g.ExpiresIn.Seconds()), RefreshToken: g.RefreshToken,
	})
}

// revoke is RFC 7009: 200 for every well-formed request, whatever the token.
func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	if err := h.o.Service.Revoke(r.Context(), tok); err != nil {
		h.o.Logger.Error("revocation failed", "request_id", httpx.RequestID(r), "error", err)
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "token service unavailable")
		return
	}
	h.o.Logger.Info("token revoked by its holder", "event", "revocation", "kind", "token",
		"client_ip", httpx.ClientIP(r).String(), "request_id", httpx.RequestID(r))
	h.audit(r, auth.AuditRevocation, "", "token revoked by its holder (RFC 7009)")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// refused writes a refusal's audit line, at most one a minute per kind
// and client (with the count of those held back since).
func (h *handler) refused(log *slog.Logger, msg string, ip netip.Addr, args ...any) {
	h.logs.Warn(log, msg, ip, args...)
}

// audit records one event of the request's client.
func (h *handler) audit(r *http.Request, kind, user, detail string) {
	auth.Audit(r.Context(), h.o.Audit, auth.AuditEvent{
		Kind: kind, User: user, IP: httpx.ClientIP(r).String(), Detail: detail, RequestID: httpx.RequestID(r),
	})
}

func (h *handler) count(result string) { h.o.Metrics.CountLogin(result) }
