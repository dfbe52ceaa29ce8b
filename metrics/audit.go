package metrics

import "github.com/prometheus/client_golang/prometheus"

// AuditKinds are the label values of gatehouse_audit_events_total (the
// audit kinds of PRODUCT.md §11, auth.AuditKinds); each series exists at 0
// from the start.
var AuditKinds = []string{
	"login", "login_failure", "logout", "forced_logout",
	"revocation", "refresh_reuse", "backchannel_logout", "admin_action",
}

// NewAuditEvents creates gatehouse_audit_events_total{kind} and registers
// it on reg. Call it once per registry.
func NewAuditEvents(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "audit_events_total",
		Help: "Audit events recorded, by kind.",
	}, []string{"kind"})
	for _, k := range AuditKinds {
		c.WithLabelValues(k)
	}
	reg.MustRegister(c)
	return c
}

// CountAudit counts one audit event of kind; a nil *Metrics counts
// nothing, and a kind outside AuditKinds is not counted (bounded labels).
func (m *Metrics) CountAudit(kind string) {
	if m == nil || m.AuditEvents == nil {
		return
	}
	for _, k := range AuditKinds {
		if k == kind {
			m.AuditEvents.WithLabelValues(kind).Inc()
			return
		}
	}
}
