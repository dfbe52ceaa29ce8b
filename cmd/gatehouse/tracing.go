package main

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/tracing"
)

// tracingFlushTimeout bounds the export of the spans still queued at
// shutdown, after the drain: a collector that is down cannot hold the exit
// up longer.
const tracingFlushTimeout = 5 * time.Second

// startTracing builds the tracer provider when tracing.otlp_endpoint is set
// and keeps it in s.tracer; otherwise s.tracer stays nil and nothing is
// traced. stop flushes the queued spans for at most tracingFlushTimeout.
// The tracing keys are read here only: a reload does not change them
// (restartOnly), except tracing.user, which each generation reads.
func (s *server) startTracing(t config.Tracing) (stop func()) {
	u := t.OTLPEndpointURL()
	if u == nil {
		return func() {}
	}
	p, err := tracing.New(tracing.Options{
		Endpoint: u, SampleRatio: t.SampleRatio, ServiceName: t.ServiceName, Version: version,
		OnDrop: s.m.DropSpans, Logger: s.log,
	})
	if err != nil { // only a missing host, which config refuses
		s.log.Error("tracing off: cannot build the exporter", "error", err.Error())
		return func() {}
	}
	s.tracer = p.TracerProvider()
	s.log.Info("tracing on", "otlp_endpoint", u.String()+"/v1/traces", "sample_ratio", t.SampleRatio,
		"service_name", t.ServiceName, "user", t.User)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			s.log.Warn("tracing: queued spans not all exported at shutdown", "error", err.Error())
		}
	}
}

// traced wraps the proxy listener's handler in the server span; h itself
// without tracing.
func (s *server) traced(h http.Handler) http.Handler {
	if s.tracer == nil {
		return h
	}
	return tracing.Handler(h, s.tracer)
}

// tracedTransport instruments the upstream transport; rt itself without
// tracing (the plain pool, no wrapper).
func (s *server) tracedTransport(rt *http.Transport) http.RoundTripper {
	if s.tracer == nil {
		return rt
	}
	return tracing.Transport(rt, s.tracer, "upstream")
}

// tracedClient is the HTTP client for JWKS ("jwks") or IdP ("idp")
// fetches: nil (the package's own default client) without tracing, else
// the same 10 s client with its round trips as spans.
func (s *server) tracedClient(name string) *http.Client {
	if s.tracer == nil {
		return nil
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tracing.Transport(nil, s.tracer, name)}
}
