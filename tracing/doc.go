// Package tracing is Gatehouse's OpenTelemetry tracing (README "Tracing"):
// the tracer provider that exports sampled spans over OTLP/HTTP through a
// bounded queue (New), the server span around the proxy listener's handler
// (Handler), and instrumented HTTP transports for the upstream, JWKS and
// IdP round trips (Transport).
//
// Nothing here is global: cmd/gatehouse builds a Provider when
// tracing.otlp_endpoint is set and passes its TracerProvider to the parts
// it wires; with tracing off it wraps nothing, so the request path does no
// tracing work at all. The W3C TraceContext propagator (Propagator) is set
// explicitly on everything built here.
//
// What never becomes an attribute: tokens, cookies, passwords, session
// IDs, query strings, request and response headers. The proxy sets the
// server span's attributes itself (proxy/trace.go).
package tracing
