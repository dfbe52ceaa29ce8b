// Package admin is the admin listener: /metrics, /healthz, /readyz and, when
// an admin token is configured, the /admin/* API (README "The admin API"). It should
// listen on loopback or a cluster-internal port only.
package admin

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configures the admin handler.
type Options struct {
	// Gatherer serves /metrics. Nil: prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Ready reports why the instance is not ready, or nil when it is
	// (config loaded, store answering, every JWKS fetched once, not
	// shutting down). Nil: always ready.
	Ready func() error
	// API serves /admin/*. Nil: 404 there (the admin token is not set).
	API http.Handler
}

// New returns the admin listener's handler.
func New(o Options) http.Handler {
	g := o.Gatherer
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.Ready != nil {
			if err := o.Ready(); err != nil {
				httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
				return
			}
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		if o.API == nil {
			httpx.WriteError(w, r, http.StatusNotFound, "not_found", "the admin API is disabled; set admin.token_file to enable it")
			return
		}
		o.API.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, http.StatusNotFound, "not_found", "no such admin endpoint")
	})
	return mux
}
