package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/prometheus/client_golang/prometheus"
)

// The forward-auth doors (README "Behind an existing ingress"): an ingress
// in front (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth)
// describes the request it holds in headers and asks whether it may pass.
const (
	// AuthRequestPath answers nginx auth_request: X-Original-Method and
	// X-Original-URI, the host in Host.
	AuthRequestPath = ReservedPrefix + "auth/auth-request"
	// ForwardAuthPath answers Traefik and Caddy: X-Forwarded-Method,
	// -Proto, -Host and -Uri.
	ForwardAuthPath = ReservedPrefix + "auth/forward-auth"
)

// isForwardAuthPath reports whether path is one of the two doors.
func isForwardAuthPath(path string) bool {
	return path == AuthRequestPath || path == ForwardAuthPath
}

// fwdCounters are a route's gatehouse_forward_auth_decisions_total children,
// resolved once.
type fwdCounters map[string]prometheus.Counter

func newFwdCounters(m *metrics.Metrics, route, mode string) fwdCounters {
	valid := metrics.RequestOutcomes(route, mode)
	c := make(fwdCounters, len(valid))
	for _, o := range valid {
		c[o] = m.ForwardAuthDecisions.WithLabelValues(route, o)
	}
	return c
}

// serveForwardAuth is both doors. It refuses callers outside
// trusted_proxies (the headers it believes describe another request), then
// runs the described request through the proxy's own path refusals,
// routing and Decide, and answers with the identity headers (200) or the
// refusal. x.fwd marks the exchange so that finish counts the decision in
// gatehouse_forward_auth_decisions_total and logs the described request.
func (h *Handler) serveForwardAuth(w *statusWriter, r *http.Request, x *exchange) {
	if !h.forwardAuth {
		x.route, x.outcome = h.gatehouse, metrics.OutcomeBadRequest
		httpx.WriteError(w, r, http.StatusNotFound, "not_found", "no such Gatehouse endpoint")
		return
	}
	if !isTrusted(httpx.PeerAddr(r.RemoteAddr), h.trusted) {
		x.route, x.outcome = h.gatehouse, metrics.OutcomeForbidden
		httpx.WriteError(w, r, http.StatusForbidden, "forbidden", "forward-auth answers only clients in trusted_proxies")
		return
	}
	nginx := x.path == AuthRequestPath
	x.fwd = true
	req, proto, why := describeForwarded(r, nginx)
	x.method, x.path = req.Method, req.URL.Path
	if why != "" {
		x.route, x.outcome = h.refused, metrics.OutcomeBadRequest
		x.path = httpx.Clip(req.URL.Path)
		httpx.WriteError(w, r, http.StatusBadRequest, "bad_request", why)
		return
	}
	x.route = h.match(req.Method, normalizeHost(req.Host), req.URL.Path)
	if x.route == nil {
		x.route, x.outcome = h.unmatched, metrics.OutcomeBadRequest
		httpx.WriteError(w, r, http.StatusNotFound, "not_found", "no route matches the described request")
		return
	}
	rt := x.route
	if rt.Auth == AuthNone {
		x.outcome = metrics.OutcomeAllowed
		w.WriteHeader(http.StatusOK)
		return
	}
	start := time.Now()
	d := h.decider.Decide(r.Context(), req, rt.Route)
	rt.authDur.Observe(time.Since(start).Seconds())
	x.id, x.outcome = d.Identity, d.Outcome
	if d.RevocationUnknown {
		h.m.StoreErrorsAllowed.Inc()
		h.log.WarnContext(r.Context(), "store unavailable; request allowed by store.on_error", "request_id", x.requestID, "route", rt.Name, "error", d.Err)
	}
	if d.Allowed() {
		h.writeIdentity(w, r, x)
		w.WriteHeader(http.StatusOK)
		return
	}
	if d.Outcome == metrics.OutcomeUnavailable {
		h.log.ErrorContext(r.Context(), "authentication unavailable", "request_id", x.requestID, "route", rt.Name, "error", d.Err)
	}
	if d.Status == http.StatusFound {
		loc := d.Header.Get("Location")
		if nginx {
			// nginx auth_request understands only 2xx, 401 and 403: the
			// redirect is nginx's error_page 401, which may use this
			// Location (auth_request_set $x $upstream_http_location).
			d.Status, d.Code, d.Description = http.StatusUnauthorized, "unauthorized", "authentication required"
		} else {
			// Traefik and Caddy send this response to the browser:
			// the login page on the host it asked for.
			loc = proto + "://" + req.Host + loc
		}
		d.Header.Set("Location", loc)
	}
	for k, v := range d.Header {
		w.Header()[k] = v
	}
	httpx.WriteError(w, r, d.Status, d.Code, d.Description)
}

// writeIdentity sets the identity headers (and the assertion) on the
// answer, for the ingress to copy onto the request it forwards.
func (h *Handler) writeIdentity(w http.ResponseWriter, r *http.Request, x *exchange) {
	if x.id == nil {
		return
	}
	h.headers.setIdentity(w.Header(), x.id)
	if h.assert != nil && h.headers.Assertion != "" {
		if a, err := h.assert.Assert(x.id, x.route.Name); err == nil {
			w.Header().Set(h.headers.Assertion, a)
		} else {
			h.log.ErrorContext(r.Context(), "sign identity assertion", "request_id", x.requestID, "error", err)
		}
	}
}

// describeForwarded reads the request the ingress describes: for nginx
// (auth-request) X-Original-Method, X-Original-URI and Host; for Traefik
// and Caddy (forward-auth) X-Forwarded-Method, -Uri and -Host. The scheme
// is X-Forwarded-Proto in both. The client's own headers (Cookie,
// Authorization, Accept, Origin, Sec-Fetch-*) are the ones the ingress
// copied onto the question. why is the reason to refuse (400), or "";
// req.URL is never nil.
func describeForwarded(r *http.Request, nginx bool) (req Request, proto, why string) {
	hd := r.Header
	methodH, uriH, host := "X-Forwarded-Method", "X-Forwarded-Uri", hd.Get("X-Forwarded-Host")
	if nginx {
		methodH, uriH, host = "X-Original-Method", "X-Original-Uri", r.Host
	}
	req = Request{Method: hd.Get(methodH), Host: host, Header: hd, ClientIP: httpx.ClientIP(r), URL: &url.URL{Path: "/"}}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	proto = "https"
	if strings.EqualFold(hd.Get("X-Forwarded-Proto"), "http") {
		proto = "http"
	}
	uri := hd.Get(uriH)
	if uri == "" {
		return req, proto, "missing " + uriH + ": the ingress must describe the original request"
	}
	if uri[0] != '/' {
		return req, proto, uriH + " must be a path starting with /"
	}
	raw, _, _ := strings.Cut(uri, "?")
	why = refusePath(raw)
	if why == "" {
		why = refuseMethod(req.Method)
	}
	if why == "" && (normalizeHost(host) == "" || !hostChars(host)) {
		why = "missing, empty or malformed host of the original request"
	}
	if why != "" {
		req.URL.Path = raw
		return req, proto, why
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		req.URL.Path = raw
		return req, proto, uriH + " is not a valid request target"
	}
	if p := mergeSlashes(u.Path); p != u.Path {
		u.Path, u.RawPath = p, mergeSlashes(u.RawPath)
	}
	req.URL = u
	return req, proto, ""
}

// hostChars reports whether a host holds only what a host[:port] may
// (letters, digits, '.', '-', ':', '[', ']'), so that it can go into the
// login URL of a forward-auth redirect as is.
func hostChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// countForwardAuth counts a forward-auth decision: only in
// gatehouse_forward_auth_decisions_total, never in gatehouse_requests_total.
func (h *Handler) countForwardAuth(rt *route, outcome string) {
	c, ok := rt.fwd[outcome]
	if !ok {
		c = h.m.ForwardAuthDecisions.WithLabelValues(rt.Name, outcome)
	}
	c.Inc()
}
