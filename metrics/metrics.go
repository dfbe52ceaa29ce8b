// Package metrics defines every Prometheus collector Gatehouse exports
// (README "Metrics"), in one place so that dashboards, alerts and tests can be
// checked against a single list. Label values come from config or fixed
// sets, never from requests.
package metrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "gatehouse"

// Outcome label values of gatehouse_requests_total.
const (
	OutcomeAllowed         = "allowed"
	OutcomeUnauthenticated = "unauthenticated"
	OutcomeForbidden       = "forbidden"
	OutcomeRevoked         = "revoked"
	OutcomeBadRequest      = "bad_request"
	OutcomeUnavailable     = "unavailable"
	OutcomeError           = "error"
)

// Route label values that are not route names.
const (
	RouteRefused   = "_refused"
	RouteUnmatched = "_unmatched"
	RouteGatehouse = "_gatehouse"
)

// Metrics holds Gatehouse's collectors. All fields are safe for concurrent
// use. A nil *Metrics is not valid; use New.
type Metrics struct {
	Requests           *prometheus.CounterVec   // route, auth, outcome
	RequestDuration    *prometheus.HistogramVec // route
	AuthDuration       *prometheus.HistogramVec // auth
	UpstreamResponses  *prometheus.CounterVec   // route, code
	UpstreamDuration   *prometheus.HistogramVec // route
	StoreOperations    *prometheus.CounterVec   // op, result
	StoreDuration      *prometheus.HistogramVec // op
	Logins             *prometheus.CounterVec   // result
	JWKSRefreshes      *prometheus.CounterVec   // issuer, result
	Revocations        *prometheus.CounterVec   // kind
	ConfigReloads      *prometheus.CounterVec   // result
	BuildInfo          *prometheus.GaugeVec     // version, goversion
	StoreErrorsAllowed prometheus.Counter       // requests let through by on_error: allow
	// ForwardAuthDecisions counts forward-auth answers (route, outcome).
	ForwardAuthDecisions *prometheus.CounterVec

	// Gauges of the process's state. The FuncGauges read live state from the
	// function given to their Set and are absent until then.
	Inflight                 *FuncGauge       // proxy requests being served
	StoreUp                  *FuncGauge       // 1 when the store's last check answered
	RevocationSubscriptionUp *FuncGauge       // Redis store: 1 while the pub/sub subscription is live
	ConfigLastReloadSuccess  prometheus.Gauge // 1/0, see ConfigLoaded
	ConfigLastReloadTime     prometheus.Gauge // UNIX seconds of the last load or reload

	OIDC *OIDC // sign-in at OpenID Providers (oidc.go)

	AuditEvents *prometheus.CounterVec // kind (audit.go)

	SpansDropped *prometheus.CounterVec // reason (tracing.go)
}

// New creates the collectors and registers them, with the Go and process
// collectors, on reg.
func New(reg prometheus.Registerer, version string) *Metrics {
	fast := []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Requests on the proxy listener by route, auth mode and authentication outcome.",
		}, []string{"route", "auth", "outcome"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help: "Time from request to response headers, upstream included.", Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		AuthDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "auth_duration_seconds",
			Help: "Time spent authenticating a request.", Buckets: fast,
		}, []string{"auth"}),
		UpstreamResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upstream_responses_total",
			Help: "Upstream responses by route and status class (2xx..5xx); Gatehouse's own 502/504 count as 5xx.",
		}, []string{"route", "code"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "upstream_duration_seconds",
			Help: "Time to the upstream's response headers.", Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		StoreOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_operations_total",
			Help: "Calls to the session and revocation store by operation and result.",
		}, []string{"op", "result"}),
		StoreDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_duration_seconds",
			Help: "Duration of store calls.", Buckets: fast,
		}, []string{"op"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Password logins (form and password grant) by result.",
		}, []string{"result"}),
		JWKSRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "jwks_refreshes_total",
			Help: "JWKS fetches by issuer and result.",
		}, []string{"issuer", "result"}),
		Revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "revocations_total",
			Help: "Revocations made through Gatehouse by kind.",
		}, []string{"kind"}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "config_reloads_total",
			Help: "Config reloads by result.",
		}, []string{"result"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1; labels carry the build.",
		}, []string{"version", "goversion"}),
		StoreErrorsAllowed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_errors_allowed_total",
			Help: "Requests let through because the store could not answer and store.on_error is allow.",
		}),
		ForwardAuthDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "forward_auth_decisions_total",
			Help: "Forward-auth decisions (nginx auth_request, Traefik, Caddy) by the described request's route and outcome.",
		}, []string{"route", "outcome"}),
		Inflight: newFuncGauge("inflight_requests",
			"Requests on the proxy listener being served now, upgraded (WebSocket) connections included."),
		StoreUp: newFuncGauge("store_up",
			"1 when the store's last health check (every second) answered, else 0."),
		RevocationSubscriptionUp: newFuncGauge("revocation_subscription_up",
			"Redis store: 1 while the subscription to the revocations channel is live, else 0 (revocation answers then come from Redis on every request)."),
		ConfigLastReloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_success",
			Help: "1 when the last config load (the initial one, or the last reload) succeeded; 0 while a refused config is in place.",
		}),
		ConfigLastReloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_timestamp_seconds",
			Help: "UNIX time of the last config load or reload attempt, successful or not.",
		}),
	}
	m.OIDC = NewOIDC(reg)
	m.AuditEvents = NewAuditEvents(reg)
	m.SpansDropped = NewTracingDropped(reg)
	m.BuildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(m.Requests, m.RequestDuration, m.AuthDuration, m.UpstreamResponses,
		m.UpstreamDuration, m.StoreOperations, m.StoreDuration, m.Logins, m.JWKSRefreshes,
		m.Revocations, m.ConfigReloads, m.BuildInfo, m.StoreErrorsAllowed, m.ForwardAuthDecisions,
		m.Inflight, m.StoreUp, m.RevocationSubscriptionUp, m.ConfigLastReloadSuccess, m.ConfigLastReloadTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveStore records one store call; err nil counts as ok.
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.StoreOperations.WithLabelValues(op, result).Inc()
	m.StoreDuration.WithLabelValues(op).Observe(d.Seconds())
}

// CountLogin counts one password sign-in (the form or the password grant)
// in gatehouse_logins_total by result; a nil *Metrics counts nothing.
func (m *Metrics) CountLogin(result string) {
	if m != nil {
		m.Logins.WithLabelValues(result).Inc()
	}
}

// ObserveJWKSRefresh records one JWKS fetch.
func (m *Metrics) ObserveJWKSRefresh(issuer string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.JWKSRefreshes.WithLabelValues(issuer, result).Inc()
}
