package metrics

import "github.com/prometheus/client_golang/prometheus"

// Reasons of gatehouse_tracing_spans_dropped_total: the export queue was
// full (spans ended faster than the collector took them), or the export
// of a batch failed (collector unreachable or refusing).
const (
	SpansDroppedQueueFull   = "queue_full"
	SpansDroppedExportError = "export_error"
)

// NewTracingDropped creates gatehouse_tracing_spans_dropped_total{reason}
// with both reasons at 0 and registers it on reg. Call it once per
// registry.
func NewTracingDropped(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "tracing_spans_dropped_total",
		Help: "Sampled spans never delivered to the OTLP collector, by reason (queue_full, export_error); 0 while tracing is off.",
	}, []string{"reason"})
	c.WithLabelValues(SpansDroppedQueueFull)
	c.WithLabelValues(SpansDroppedExportError)
	reg.MustRegister(c)
	return c
}

// DropSpans counts n spans dropped for reason (SpansDroppedQueueFull or
// SpansDroppedExportError). Safe for concurrent use.
func (m *Metrics) DropSpans(reason string, n int) {
	if n > 0 {
		m.SpansDropped.WithLabelValues(reason).Add(float64(n))
	}
}
