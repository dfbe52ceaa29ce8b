package tracing

import (
	"context"
	"net/http"
	"net/url"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ServerSpanName is the server span's name until the proxy names it after
// the route ("gatehouse <route>").
const ServerSpanName = "gatehouse"

// Handler starts a server span for every request next serves, as the child
// of the client's W3C traceparent when it sent a valid one (its tracestate
// kept), and ends it when next returns. next finds the span in the
// request's context and annotates it (the proxy: route, auth, outcome,
// status). The client's traceparent is always continued: a client can thus
// have its requests sampled, at the cost of spans the bounded export queue
// caps.
func Handler(next http.Handler, tp trace.TracerProvider) http.Handler {
	return &handler{next: next, tracer: tp.Tracer(Scope), prop: Propagator()}
}

// serverKind is built once: an option made per call is an allocation per
// request.
var serverKind = trace.WithSpanKind(trace.SpanKindServer)

type handler struct {
	next   http.Handler
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := h.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := h.tracer.Start(ctx, ServerSpanName, serverKind)
	defer span.End()
	h.next.ServeHTTP(w, r.WithContext(ctx))
}

// Transport instruments base with a client span per round trip, named
// "<name> <METHOD>", the child of the span in the request's context (or a
// new trace's root), and injects its traceparent and tracestate into the
// request. It is otelhttp's transport with two changes: its url.full is
// replaced by the URL without query, fragment or credentials (a query may
// carry a token), and it records no metrics. A client's tracestate is sent
// on only with the trace it belongs to. Request and response headers
// are never recorded. The response body is passed through unchanged in
// kind (an upgraded connection's body stays writable).
//
// A round trip in a trace that is not sampled records nothing, so it skips
// the instrumentation: the request goes out with the caller's span as the
// traceparent's parent (same trace ID, not-sampled flag).
func Transport(base http.RoundTripper, tp trace.TracerProvider, name string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, prop: Propagator(), traced: otelhttp.NewTransport(redactURL{base},
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return name + " " + r.Method }),
	)}
}

type transport struct {
	base, traced http.RoundTripper
	prop         propagation.TextMapPropagator
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	sc := trace.SpanContextFromContext(r.Context())
	if !sc.IsValid() || sc.IsSampled() {
		return t.traced.RoundTrip(r)
	}
	if _, ok := r.Header[traceparent]; ok {
		// Set by the caller with Inject on a request it owns (the proxy's
		// Rewrite hook): sent as it is. Copying the request here instead
		// cost the proxy 8 µs a request in BenchmarkTracing/on-never.
		return t.base.RoundTrip(r)
	}
	out := *r // a RoundTripper must not modify the request it was given
	out.Header = r.Header.Clone()
	Inject(r.Context(), out.Header)
	return t.base.RoundTrip(&out)
}

// Inject writes the trace context of ctx into h as W3C traceparent (and
// the trace's own tracestate, if it has one), replacing any the client
// sent. The proxy calls it on the upstream request it owns, so that an
// unsampled round trip through Transport needs no copy of the request; a
// sampled one gets its client span's traceparent from Transport.
func Inject(ctx context.Context, h http.Header) {
	h.Del(tracestate) // Inject sets the trace's own, if it has one
	Propagator().Inject(ctx, propagation.HeaderCarrier(h))
}

// traceparent is the W3C header, in its canonical form.
const traceparent = "Traceparent"

// tracestate is the W3C header that belongs to a traceparent: a client's
// is passed on only with the trace it came with (the span context keeps
// it), never beside a traceparent Gatehouse started.
const tracestate = "Tracestate"

// redactURL overwrites the client span's url.full, which otelhttp sets with
// the query string, before the request leaves; only the last value of an
// attribute is exported.
type redactURL struct{ next http.RoundTripper }

func (t redactURL) RoundTrip(r *http.Request) (*http.Response, error) {
	span := trace.SpanFromContext(r.Context())
	if span.IsRecording() {
		span.SetAttributes(attribute.String("url.full", SafeURL(r.URL)))
	}
	if _, ok := r.Header[tracestate]; ok && span.SpanContext().TraceState().Len() == 0 {
		// A client's tracestate beside a trace Gatehouse started (its
		// traceparent was missing or invalid): not passed on.
		out := *r
		out.Header = r.Header.Clone()
		out.Header.Del(tracestate)
		r = &out
	}
	return t.next.RoundTrip(r)
}

// SafeURL is u without credentials, query and fragment.
func SafeURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	s := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return s.String()
}
