package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/tracing/otlptest"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func newProvider(t *testing.T, endpoint string, ratio float64) *Provider {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Endpoint: u, SampleRatio: ratio})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// TestEndpointPath: spans are posted to the endpoint's path + /v1/traces,
// and the service name defaults to gatehouse.
func TestEndpointPath(t *testing.T) {
	coll := otlptest.Start(t)
	p := newProvider(t, coll.URL+"/otlp/", 1)
	_, span := p.TracerProvider().Tracer("test").Start(context.Background(), "x")
	span.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := coll.Wait(t, 5*time.Second, "one span", func(s []otlptest.Span) bool { return len(s) == 1 })
	if got := coll.Paths(); !slices.Equal(got, []string{"/otlp/v1/traces"}) {
		t.Errorf("posted to %v, want [/otlp/v1/traces]", got)
	}
	if spans[0].Service != "gatehouse" {
		t.Errorf("service.name %q, want gatehouse", spans[0].Service)
	}
}

// TestTransportUnsampled: in a trace that is not sampled the round trip is
// not instrumented, yet the request carries the trace on (the caller's span
// as parent, not sampled), and the caller's request is left as it was.
func TestTransportUnsampled(t *testing.T) {
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer up.Close()
	coll := otlptest.Start(t)
	p := newProvider(t, coll.URL, 0)
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, Remote: true,
	})
	ctx, span := p.TracerProvider().Tracer("test").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "server")
	defer span.End()
	if span.IsRecording() {
		t.Fatal("a not-sampled parent's child is recording")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL+"/x?token=t", nil)
	resp, err := (&http.Client{Transport: Transport(nil, p.TracerProvider(), "upstream")}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "00-" + parent.TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-00"
	if tp := got.Get("Traceparent"); tp != want {
		t.Errorf("upstream traceparent %q, want %q", tp, want)
	}
	if len(req.Header) != 0 {
		t.Errorf("the caller's request was modified: %v", req.Header)
	}
	_ = p.ForceFlush(context.Background())
	if n := len(coll.Spans()); n != 0 {
		t.Errorf("%d spans exported for a trace not sampled", n)
	}
}

// TestTransportUnsampledInjected: a request its caller already gave a
// traceparent with Inject (the proxy, on the upstream request it owns)
// goes out as it is, not copied; Inject replaces a client's traceparent
// and drops its orphan tracestate.
func TestTransportUnsampledInjected(t *testing.T) {
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer up.Close()
	p := newProvider(t, otlptest.Start(t).URL, 0)
	ctx, span := p.TracerProvider().Tracer("test").Start(context.Background(), "server")
	defer span.End()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL+"/x", nil)
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("Tracestate", "client=1")
	Inject(ctx, req.Header)
	want := "00-" + span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-00"
	if tp := req.Header.Get("Traceparent"); tp != want {
		t.Fatalf("after Inject: traceparent %q, want %q", tp, want)
	}
	if ts := req.Header.Values("Tracestate"); len(ts) != 0 {
		t.Errorf("after Inject: tracestate %q, want none (it belonged to the client's trace)", ts)
	}
	var seen *http.Request
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r
		return http.DefaultTransport.RoundTrip(r)
	})
	resp, err := (&http.Client{Transport: Transport(base, p.TracerProvider(), "upstream")}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen != req {
		t.Errorf("the request was copied on its way out; want it sent as it is")
	}
	if tp := got.Get("Traceparent"); tp != want {
		t.Errorf("upstream traceparent %q, want %q", tp, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHandlerContinuesClientTrace: the server span is the child of the
// client's traceparent, keeps its tracestate, and is a new root without one.
func TestHandlerContinuesClientTrace(t *testing.T) {
	coll := otlptest.Start(t)
	p := newProvider(t, coll.URL, 1)
	var seen trace.SpanContext
	h := Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = trace.SpanContextFromContext(r.Context())
	}), p.TracerProvider())
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("Tracestate", "k=v")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if seen.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || seen.TraceState().String() != "k=v" || !seen.IsSampled() {
		t.Errorf("span context %v, want the client's trace and tracestate continued", seen)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if seen.TraceID().String() == "0af7651916cd43dd8448eb211c80319c" || !seen.IsValid() {
		t.Errorf("without traceparent: span context %v, want a new trace", seen)
	}
	carrier := propagation.MapCarrier{}
	Propagator().Inject(trace.ContextWithSpanContext(context.Background(), seen), carrier)
	if !strings.HasPrefix(carrier["traceparent"], "00-"+seen.TraceID().String()) {
		t.Errorf("Propagator injects %v, want a W3C traceparent", carrier)
	}
}

func TestSafeURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@up:8080/a/b?token=x#f": "http://up:8080/a/b",
		"https://idp.example.com/jwks":     "https://idp.example.com/jwks",
		"http://up/a%2Fb?x":                "http://up/a%2Fb",
	} {
		u, _ := url.Parse(in)
		if got := SafeURL(u); got != want {
			t.Errorf("SafeURL(%q) = %q, want %q", in, got, want)
		}
	}
}
