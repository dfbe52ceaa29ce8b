package proxy

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Auth modes of a route: the spellings of auth.Mode (one definition,
// shared with config), as strings for metric labels and log fields.
const (
	AuthNone    = string(auth.ModeNone)
	AuthSession = string(auth.ModeSession)
	AuthJWT     = string(auth.ModeJWT)
	AuthAny     = string(auth.ModeAny)
)

// Route is one entry of the routing table. The first route that matches a
// request wins.
type Route struct {
	Name       string
	Path       string   // exact path; mutually exclusive with PathPrefix
	PathPrefix string   // "/" matches everything
	Methods    []string // empty: every method
	Host       string   // empty: every host; compared with the request host normalized (normalizeHost)
	Auth       string   // AuthNone, AuthSession, AuthJWT or AuthAny
	Require    Require
	Upstream   *url.URL // nil: Options.Upstream
	// ForwardAuthorization passes the client's Authorization header
	// upstream; it is stripped by default.
	ForwardAuthorization bool
}

// Require is what an authenticated caller must have: any of Groups, all of
// Scopes, all of Claims (compared as strings; an array claim matches when
// it contains the value).
type Require struct {
	Groups []string
	Scopes []string
	Claims map[string]string
}

func (q Require) allows(id *auth.Identity) bool {
	if len(q.Groups) > 0 && !id.HasGroup(q.Groups...) {
		return false
	}
	if len(q.Scopes) > 0 && !id.HasScopes(q.Scopes...) {
		return false
	}
	for path, want := range q.Claims {
		v, ok := id.Claim(path)
		if !ok || !claimHas(v, want) {
			return false
		}
	}
	return true
}

func claimHas(v any, want string) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if claimString(e) == want {
				return true
			}
		}
		return false
	default:
		return claimString(v) == want
	}
}

// route is a Route compiled for serving: its upstream forwarder and its
// metric children resolved once, so the hot path does no label lookups.
type route struct {
	Route
	host     string // Route.Host normalized; "" matches every host
	upstream *url.URL
	outcomes map[string]prometheus.Counter
	duration prometheus.Observer
	authDur  prometheus.Observer
	upDur    prometheus.Observer
	upCodes  [6]prometheus.Counter // index = status/100
	fwd      fwdCounters           // forward-auth decisions; nil when forward_auth is off
}

// matches reports whether the route takes the request; host is the request
// host already normalized (normalizeHost).
func (rt *route) matches(method, host, path string) bool {
	if rt.Path != "" {
		if path != rt.Path {
			return false
		}
	} else if !strings.HasPrefix(path, rt.PathPrefix) {
		return false
	}
	if len(rt.Methods) > 0 && !slices.Contains(rt.Methods, method) {
		return false
	}
	if rt.host != "" && rt.host != host {
		return false
	}
	return true
}

func compileRoute(r Route, def *url.URL, m *metrics.Metrics) (*route, error) {
	if !auth.Mode(r.Auth).Valid() {
		return nil, fmt.Errorf("route %s: unknown auth mode %q", r.Name, r.Auth)
	}
	if (r.Path == "") == (r.PathPrefix == "") {
		return nil, fmt.Errorf("route %s: exactly one of path and path_prefix is needed", r.Name)
	}
	rt := &route{Route: r, upstream: r.Upstream}
	if r.Host != "" {
		if rt.host = normalizeHost(r.Host); rt.host == "" {
			return nil, fmt.Errorf("route %s: host %q is empty once normalized", r.Name, r.Host)
		}
	}
	if rt.upstream == nil {
		rt.upstream = def
	}
	if rt.upstream == nil {
		return nil, fmt.Errorf("route %s: no upstream", r.Name)
	}
	rt.resolveMetrics(m, r.Name, r.Auth)
	return rt, nil
}

func (rt *route) resolveMetrics(m *metrics.Metrics, name, mode string) {
	valid := metrics.RequestOutcomes(name, mode)
	rt.outcomes = make(map[string]prometheus.Counter, len(valid))
	for _, o := range valid {
		rt.outcomes[o] = m.Requests.WithLabelValues(name, mode, o)
	}
	rt.duration = m.RequestDuration.WithLabelValues(name)
	if metrics.Authenticates(mode) {
		rt.authDur = m.AuthDuration.WithLabelValues(mode)
	}
	if metrics.Proxied(name) {
		rt.upDur = m.UpstreamDuration.WithLabelValues(name)
		for i := 1; i <= 5; i++ {
			rt.upCodes[i] = m.UpstreamResponses.WithLabelValues(name, fmt.Sprintf("%dxx", i))
		}
	}
}
