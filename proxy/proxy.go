// Package proxy is Gatehouse's HTTP surface: it refuses unsafe paths,
// matches routes, asks the authenticators who is calling, answers 401, 403
// and 503 itself, and forwards everything else through an
// httputil.ReverseProxy whose Rewrite hook strips client-sent identity
// headers and injects the verified ones. It knows nothing of how a credential
// is checked or where sessions live.
//
// A request's path through this package: Handler.ServeHTTP (this file) →
// refusePath (path.go) → route lookup (route.go) → authorize (authn.go),
// which renders Decider.Decide (decide.go: authenticate, on_error,
// authorize, cross-origin) → forwarder.rewrite (forward.go).
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// ReservedPrefix is the path prefix Gatehouse keeps for its own pages; it is
// never proxied.
const ReservedPrefix = httpx.ReservedPrefix

// BearerVerifier checks a Bearer JWT. On ErrUnavailable it may still return
// the identity it verified (the signature was good but the revocation list
// could not be read); Decide turns that into an explicit
// Decision.RevocationUnknown under store.on_error: allow, and nothing else
// reads it.
type BearerVerifier interface {
	Verify(ctx context.Context, token string) (*auth.Identity, error)
}

// SessionAuthenticator checks a browser session cookie.
type SessionAuthenticator interface {
	Authenticate(r *http.Request) (*auth.Identity, error)
	// CookieName is the session cookie's name: the proxy strips it from
	// upstream requests and from upstream Set-Cookie lines.
	CookieName() string
}

// AssertionSigner signs a short-lived identity JWT for the upstream.
type AssertionSigner interface {
	Assert(id *auth.Identity, audience string) (string, error)
}

// Options configures a Handler. Zero values are documented per field.
type Options struct {
	Routes   []Route
	Upstream *url.URL // default upstream for routes that name none
	Headers  Headers
	// TrustedProxies are the peers whose X-Forwarded-* headers are
	// believed; from anyone else they are replaced. Nil trusts nobody.
	TrustedProxies []netip.Prefix
	Bearer         BearerVerifier       // nil: jwt routes refuse every token
	Sessions       SessionAuthenticator // nil: session routes never find one
	Assertions     AssertionSigner      // nil: no assertion header
	// Reserved serves ReservedPrefix (login, logout, token endpoints). Nil
	// answers 404 there.
	Reserved http.Handler
	// AllowOnStoreError lets a verified JWT through when the revocation
	// list cannot be read (store.on_error: allow). Default false: 503.
	AllowOnStoreError bool
	// UpstreamTimeout bounds the wait for the upstream's response headers
	// (504 after it). Zero: 60s.
	UpstreamTimeout time.Duration
	// BodyTimeout cuts a request body that sends nothing for this long:
	// the request ends (408 if the upstream has not answered yet) and the
	// upstream connection is closed. Zero: no limit.
	BodyTimeout time.Duration
	// StripHeaders are removed from every client request before it goes
	// upstream, on every route, in any letter case and with "_" for "-"
	// (config key strip_headers). Nil: only the identity headers are.
	StripHeaders []string
	// ProtectedCookies are Gatehouse's own cookie names besides
	// Sessions.CookieName() (the login form's CSRF cookies,
	// login.CSRFCookieName and login.CSRFCookieNameSecure): they are
	// stripped from the request's Cookie header, and a Set-Cookie from the
	// upstream for one of them is removed from its response. Nil: none.
	ProtectedCookies []string
	// Transport overrides the upstream transport (tests). Nil: a tuned
	// http.Transport.
	Transport http.RoundTripper
	Metrics   *metrics.Metrics // required
	Logger    *slog.Logger     // nil: discard; receives one access line per request
	// NoAccessLog turns the access line off (config log.access: false);
	// metrics are still recorded and other lines still logged.
	NoAccessLog bool
	// ForwardAuth turns on the forward-auth doors AuthRequestPath and
	// ForwardAuthPath (config forward_auth.enabled), for clients in
	// TrustedProxies. False: both answer 404.
	ForwardAuth bool
	// Traced says the Handler runs inside tracing.Handler, which puts a
	// server span in each request's context: finish names it after the
	// route and sets its attributes (trace.go), and the access line
	// carries trace_id. False (tracing off): no tracing work at all.
	Traced bool
	// TraceUser puts the user on the server span as enduser.id
	// (tracing.user). False: no user in any span.
	TraceUser bool
	// ErrorPages answers browser navigations' errors with an HTML page
	// (httpx.WithErrorPages, without its copy of every request). Nil:
	// JSON, or the page of an httpx.WithErrorPages around the Handler.
	ErrorPages httpx.ErrorPageFunc
}

// Handler is the proxy listener's handler. It is immutable after New and safe
// for concurrent use; a config reload builds a new Handler.
type Handler struct {
	routes    []*route
	headers   Headers
	strip     stripper
	trusted   []netip.Prefix
	decider   *Decider
	assert    AssertionSigner
	reserved  http.Handler
	fwd       *forwarder
	m         *metrics.Metrics
	log       *slog.Logger
	access    bool   // write one access line per request (Options.NoAccessLog unset)
	refused   *route // metric children for _refused, _unmatched, _gatehouse
	unmatched *route
	gatehouse *route

	cookies     map[string]struct{} // ownCookies lower-cased, for Set-Cookie
	ownCookies  []string            // session cookie and Options.ProtectedCookies, for Cookie
	bodyTimeout time.Duration
	forwardAuth bool                // Options.ForwardAuth
	traced      bool                // Options.Traced
	traceUser   bool                // Options.TraceUser
	pages       httpx.ErrorPageFunc // Options.ErrorPages
}

// New compiles the routes and builds the forwarder.
func New(o Options) (*Handler, error) {
	if o.Metrics == nil {
		return nil, errors.New("proxy: Options.Metrics is required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		headers: o.Headers, strip: newStripper(append(o.Headers.names(), o.StripHeaders...)), trusted: o.TrustedProxies,
		assert: o.Assertions, reserved: o.Reserved, m: o.Metrics, log: log,
		access: !o.NoAccessLog, bodyTimeout: o.BodyTimeout, forwardAuth: o.ForwardAuth, pages: o.ErrorPages,
		traced: o.Traced, traceUser: o.TraceUser,
	}
	h.ownCookies = ownCookies(o.Sessions, o.ProtectedCookies)
	h.cookies = cookieSet(h.ownCookies)
	h.decider = NewDecider(DeciderOptions{
		Bearer: o.Bearer, Sessions: o.Sessions, AllowOnStoreError: o.AllowOnStoreError,
		SendableIdentity: o.Headers.validIdentity,
	})
	for _, r := range o.Routes {
		rt, err := compileRoute(r, o.Upstream, o.Metrics)
		if err != nil {
			return nil, err
		}
		if o.ForwardAuth {
			rt.fwd = newFwdCounters(o.Metrics, r.Name, r.Auth)
		}
		h.routes = append(h.routes, rt)
	}
	for name, p := range map[string]**route{
		metrics.RouteRefused: &h.refused, metrics.RouteUnmatched: &h.unmatched, metrics.RouteGatehouse: &h.gatehouse,
	} {
		*p = &route{Route: Route{Name: name, Auth: AuthNone}}
		(*p).resolveMetrics(o.Metrics, name, AuthNone)
		if o.ForwardAuth && name != metrics.RouteGatehouse {
			(*p).fwd = newFwdCounters(o.Metrics, name, AuthNone)
		}
	}
	h.fwd = newForwarder(h, o.Transport, o.UpstreamTimeout)
	return h, nil
}

// exchange is the per-request state shared between ServeHTTP, the
// forwarder's hooks and the access log. One allocation holds it all: the
// request's httpx.Info (the one context value, whose State is the exchange
// itself), the status writer and the X-Request-Id header value.
type exchange struct {
	info      httpx.Info
	sw        statusWriter
	idValue   [1]string // X-Request-Id's value, shared by the response and the upstream request
	route     *route
	id        *auth.Identity
	requestID string
	start     time.Time
	upStart   time.Time
	outcome   string
	path      string // the merged path the route was matched on
	fwd       bool   // a forward-auth decision: route, outcome and path are the described request's
	method    string // the described request's method (fwd); "": the request's own

	body *clientBody // nil: the request has no body
}

// exchangeOf returns the exchange ServeHTTP put in ctx.
func exchangeOf(ctx context.Context) *exchange {
	return httpx.InfoOf(ctx).State.(*exchange)
}

// ServeHTTP is the whole request path of the proxy listener.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{start: time.Now(), requestID: httpx.KeepOrNewRequestID(r.Header.Get(httpx.RequestIDHeader))}
	x.sw.ResponseWriter = w
	sw := &x.sw
	x.idValue[0] = x.requestID
	w.Header()[httpx.RequestIDHeader] = x.idValue[:]
	client := clientIP(httpx.PeerAddr(r.RemoteAddr), r.Header.Values("X-Forwarded-For"), h.trusted)
	x.info = httpx.Info{RequestID: x.requestID, ClientIP: client, Pages: h.pages, State: x}
	if prev := httpx.InfoOf(r.Context()); prev != nil && x.info.Pages == nil {
		x.info.Pages = prev.Pages
	}
	r = r.WithContext(httpx.WithInfo(r.Context(), &x.info))
	defer h.finish(sw, r, x)

	raw := rawPath(r.RequestURI, r.URL.EscapedPath())
	host := normalizeHost(r.Host)
	why := refusePath(raw)
	if why == "" {
		why = refuseMethod(r.Method)
	}
	if why == "" && host == "" {
		why = "missing or empty Host"
	}
	if why != "" {
		x.route, x.outcome, x.path = h.refused, metrics.OutcomeBadRequest, raw
		httpx.WriteError(sw, r, http.StatusBadRequest, "bad_request", why)
		return
	}
	dropUpgrade(r.Header)
	x.path = mergeSlashes(r.URL.Path)
	if x.path != r.URL.Path {
		r.URL.Path, r.URL.RawPath = x.path, mergeSlashes(r.URL.RawPath)
	}
	if isForwardAuthPath(x.path) {
		h.serveForwardAuth(sw, r, x)
		return
	}
	if strings.HasPrefix(x.path, ReservedPrefix) {
		h.serveReserved(sw, r, x)
		return
	}
	x.route = h.match(r.Method, host, x.path)
	if x.route == nil {
		x.route, x.outcome = h.unmatched, metrics.OutcomeBadRequest
		httpx.WriteError(sw, r, http.StatusNotFound, "not_found", "no route matches this request")
		return
	}
	if !h.authorize(sw, r, x) {
		return
	}
	x.outcome = metrics.OutcomeAllowed
	body := h.wrapBody(w, r, x)
	h.fwd.proxy.ServeHTTP(sw, r)
	body.finish()
}

func (h *Handler) match(method, host, path string) *route {
	for _, rt := range h.routes {
		if rt.matches(method, host, path) {
			return rt
		}
	}
	return nil
}

func (h *Handler) serveReserved(w *statusWriter, r *http.Request, x *exchange) {
	x.route = h.gatehouse
	if h.reserved == nil {
		x.outcome = metrics.OutcomeBadRequest
		httpx.WriteError(w, r, http.StatusNotFound, "not_found", "no such Gatehouse endpoint")
		return
	}
	h.reserved.ServeHTTP(w, r)
	x.outcome = outcomeForStatus(w.status)
}

// outcomeForStatus classifies the answer of a reserved endpoint.
func outcomeForStatus(status int) string {
	switch {
	case status == 0 || status < 400:
		return metrics.OutcomeAllowed
	case status == http.StatusUnauthorized || status == http.StatusTooManyRequests:
		return metrics.OutcomeUnauthenticated
	case status == http.StatusForbidden:
		return metrics.OutcomeForbidden
	case status == http.StatusServiceUnavailable:
		return metrics.OutcomeUnavailable
	case status < 500:
		return metrics.OutcomeBadRequest
	default:
		return metrics.OutcomeError
	}
}

// finish records metrics and writes the access log line.
func (h *Handler) finish(w *statusWriter, r *http.Request, x *exchange) {
	now := time.Now() // one clock read for the duration, the upstream time and the log record
	d := now.Sub(x.start)
	rt := x.route
	if rt == nil {
		rt = h.refused
	}
	if x.outcome == "" {
		x.outcome = metrics.OutcomeError
	}
	if x.fwd {
		h.countForwardAuth(rt, x.outcome)
	} else {
		c, ok := rt.outcomes[x.outcome]
		if !ok { // a combination metrics.RequestOutcomes does not list: still counted
			c = h.m.Requests.WithLabelValues(rt.Name, rt.Auth, x.outcome)
		}
		c.Inc()
		rt.duration.Observe(d.Seconds())
	}
	if h.traced {
		h.annotateSpan(r.Context(), rt, x, r.Method, w.status)
	}
	if !h.access || !h.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	user := ""
	if x.id != nil {
		user = x.id.User
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	method := r.Method
	if x.method != "" {
		method = x.method
	}
	var buf [13]slog.Attr // on the stack, no slice per line; room for every attribute below and one more
	attrs := append(buf[:0],
		slog.String("request_id", x.requestID), slog.String("route", rt.Name),
		slog.String("method", httpx.Clip(method)), slog.String("path", httpx.Clip(x.path)), slog.Int("status", status),
		slog.String("auth", rt.Auth), slog.String("outcome", x.outcome), slog.String("user", httpx.Clip(user)),
		slog.String("client_ip", addrText(x.info.ClientIP, r.RemoteAddr)), slog.Float64("duration_seconds", d.Seconds()),
	)
	if !x.upStart.IsZero() {
		attrs = append(attrs, slog.Float64("upstream_seconds", now.Sub(x.upStart).Seconds()))
	}
	if x.fwd {
		attrs = append(attrs, slog.Bool("forward_auth", true))
	}
	if h.traced {
		attrs = appendTraceID(r.Context(), attrs)
	}
	// What Logger.LogAttrs does, less the caller's program counter it
	// looks up for AddSource (never set on the access log).
	rec := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	rec.AddAttrs(attrs...)
	_ = h.log.Handler().Handle(r.Context(), rec)
}

// addrText is ip.String() without allocating in the usual case: ip is the
// IPv4 peer address that starts remoteAddr ("192.0.2.1:5678"), written
// there in the same canonical form (netip refuses other spellings of IPv4).
func addrText(ip netip.Addr, remoteAddr string) string {
	if ip.Is4() {
		if i := strings.LastIndexByte(remoteAddr, ':'); i > 0 {
			if a, err := netip.ParseAddr(remoteAddr[:i]); err == nil && a == ip {
				return remoteAddr[:i]
			}
		}
	}
	return ip.String()
}

// statusWriter remembers the status code. Unwrap lets
// http.ResponseController reach Flush and Hijack (streaming, WebSockets).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
