package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FuncGauge is a gauge whose value is read, at each scrape, from a function
// given once the state it reports exists (the server's in-flight counter,
// the store's health, the Redis subscription). Until Set is called it
// exports nothing, so that a gauge that does not apply (the revocation
// subscription of the memory store) is absent rather than a misleading 0.
// Safe for concurrent use.
type FuncGauge struct {
	desc *prometheus.Desc
	fn   atomic.Pointer[func() float64]
}

func newFuncGauge(name, help string) *FuncGauge {
	return &FuncGauge{desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)}
}

// Set makes fn the source of the gauge's value; nil removes it.
func (g *FuncGauge) Set(fn func() float64) {
	if fn == nil {
		g.fn.Store(nil)
		return
	}
	g.fn.Store(&fn)
}

// SetBool is Set with a source that reports 1 for true and 0 for false.
func (g *FuncGauge) SetBool(fn func() bool) {
	g.Set(func() float64 {
		if fn() {
			return 1
		}
		return 0
	})
}

// Describe implements prometheus.Collector.
func (g *FuncGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *FuncGauge) Collect(ch chan<- prometheus.Metric) {
	if fn := g.fn.Load(); fn != nil {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, (*fn)())
	}
}

// ConfigLoaded records a config load: the initial one at start (ok is then
// true, since serve refuses to start otherwise) or a reload's result.
// gatehouse_config_last_reload_success is 1 or 0 and stays so until the
// next load, so an alert on it fires for as long as a bad config is in
// place; the timestamp is when that load was tried.
func (m *Metrics) ConfigLoaded(ok bool, at time.Time) {
	v := 0.0
	if ok {
		v = 1
	}
	m.ConfigLastReloadSuccess.Set(v)
	m.ConfigLastReloadTime.Set(float64(at.UnixNano()) / 1e9)
}

// ObserveConfigReload records a reload's result: the counter by result and
// the last-reload gauges (ConfigLoaded).
func (m *Metrics) ObserveConfigReload(ok bool) {
	result := "success"
	if !ok {
		result = "error"
	}
	m.ConfigReloads.WithLabelValues(result).Inc()
	m.ConfigLoaded(ok, time.Now())
}
