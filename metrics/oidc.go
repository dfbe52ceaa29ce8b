package metrics

import "github.com/prometheus/client_golang/prometheus"

// OIDC holds the collectors of sign-in at external OpenID Providers
// (PRODUCT.md §6, §9). Label values are configured provider names (or
// "_unknown"), never request data.
type OIDC struct {
	ProviderUp  *prometheus.GaugeVec   // provider
	Logins      *prometheus.CounterVec // provider, result: success, failure, denied, error
	Refreshes   *prometheus.CounterVec // provider, result: ok, ended, error
	Backchannel *prometheus.CounterVec // provider, result: ok, invalid
}

// Results of gatehouse_backchannel_logouts_total, and its provider label
// when no configured issuer matched.
const (
	BackchannelOK      = "ok"
	BackchannelInvalid = "invalid"
	ProviderUnknown    = "_unknown"
)

// NewOIDC creates the OIDC collectors and registers them on reg. Call it
// once per registry.
func NewOIDC(reg prometheus.Registerer) *OIDC {
	o := &OIDC{
		ProviderUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "oidc_provider_up",
			Help: "1 when the provider's discovery document (and so its JWKS location) was fetched, else 0.",
		}, []string{"provider"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "oidc_logins_total",
			Help: "Sign-ins at OpenID Providers by provider and result.",
		}, []string{"provider", "result"}),
		Refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "oidc_refreshes_total",
			Help: "Refreshes of OIDC sessions at their provider by result.",
		}, []string{"provider", "result"}),
		Backchannel: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "backchannel_logouts_total",
			Help: "Back-channel logout requests by provider and result.",
		}, []string{"provider", "result"}),
	}
	reg.MustRegister(o.ProviderUp, o.Logins, o.Refreshes, o.Backchannel)
	return o
}

// SetProviderUp sets gatehouse_oidc_provider_up; nil-safe.
func (o *OIDC) SetProviderUp(provider string, up bool) {
	if o == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	o.ProviderUp.WithLabelValues(provider).Set(v)
}

// CountLogin counts a sign-in; nil-safe.
func (o *OIDC) CountLogin(provider, result string) {
	if o != nil {
		o.Logins.WithLabelValues(provider, result).Inc()
	}
}

// CountBackchannel counts a back-channel logout; nil-safe.
func (o *OIDC) CountBackchannel(provider, result string) {
	if o != nil {
		o.Backchannel.WithLabelValues(provider, result).Inc()
	}
}
