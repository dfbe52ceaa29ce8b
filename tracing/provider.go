package tracing

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of Gatehouse's own spans.
const Scope = "github.com/gatehouse-proxy/gatehouse"

// DefaultQueueSize is Options.QueueSize's zero value: sampled spans
// waiting for export beyond it are dropped (and counted), never waited for.
const DefaultQueueSize = 2048

// Export timing. The exporter retries a failed batch for at most
// exportRetry; a batch export as a whole is cut after exportTimeout.
const (
	exportTimeout  = 15 * time.Second
	requestTimeout = 5 * time.Second
	exportRetry    = 10 * time.Second
)

// Options configures a Provider.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP base URL (http or https);
	// spans are posted to its path + "/v1/traces". Required.
	Endpoint *url.URL
	// SampleRatio is the share of new traces sampled (0 to 1). A trace
	// continued from a client's traceparent follows its sampled flag.
	SampleRatio float64
	ServiceName string // service.name; "": "gatehouse"
	Version     string // service.version; "": none
	// QueueSize bounds the sampled spans waiting for export; 0:
	// DefaultQueueSize. A span that finds the queue full is dropped.
	QueueSize int
	// OnDrop, if not nil, hears of spans dropped: reason is
	// metrics.SpansDroppedQueueFull or SpansDroppedExportError. It must be
	// safe for concurrent use and fast.
	OnDrop func(reason string, n int)
	// Logger receives export failures, at most one line a minute; nil
	// discards them.
	Logger *slog.Logger
}

// Provider is a running tracer provider and its exporter. Make it with New
// and stop it with Shutdown. Safe for concurrent use.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// Propagator is the W3C TraceContext propagator (traceparent, tracestate)
// that Handler extracts and Transport injects.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// New builds the provider: parent-based sampling at o.SampleRatio, a batch
// processor whose queue never blocks a request, and the OTLP/HTTP exporter.
// It does no network I/O: a collector that is down costs dropped spans,
// never a failed or slower request. Besides the options, the exporter
// honours OTEL_EXPORTER_OTLP_HEADERS, _COMPRESSION, _CERTIFICATE,
// _CLIENT_CERTIFICATE and _CLIENT_KEY (and their _TRACES_ forms), and the
// batch processor OTEL_BSP_SCHEDULE_DELAY and OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
func New(o Options) (*Provider, error) {
	if o.Endpoint == nil || o.Endpoint.Host == "" {
		return nil, errors.New("tracing: no endpoint")
	}
	if o.ServiceName == "" {
		o.ServiceName = "gatehouse"
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.OnDrop == nil {
		o.OnDrop = func(string, int) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(o.Endpoint.Host),
		otlptracehttp.WithURLPath(strings.TrimRight(o.Endpoint.Path, "/") + "/v1/traces"),
		otlptracehttp.WithTimeout(requestTimeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: time.Second, MaxInterval: 5 * time.Second, MaxElapsedTime: exportRetry,
		}),
	}
	if o.Endpoint.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, err
	}
	q := &boundedQueue{limit: int64(o.QueueSize), onDrop: o.OnDrop}
	ce := &countingExporter{next: exp, q: q, log: o.Logger}
	// The processor's own queue has room for ForceFlush markers besides
	// the spans boundedQueue admits, so it never drops one silently.
	q.next = sdktrace.NewBatchSpanProcessor(ce,
		sdktrace.WithMaxQueueSize(o.QueueSize+64), sdktrace.WithExportTimeout(exportTimeout))
	attrs := []attribute.KeyValue{attribute.String("service.name", o.ServiceName)}
	if o.Version != "" {
		attrs = append(attrs, attribute.String("service.version", o.Version))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		res = resource.NewSchemaless(attrs...)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
		sdktrace.WithSpanProcessor(q),
		sdktrace.WithResource(res),
	)
	return &Provider{tp: tp}, nil
}

// TracerProvider is what the instrumented parts take.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// ForceFlush exports the spans queued now, until ctx ends.
func (p *Provider) ForceFlush(ctx context.Context) error { return p.tp.ForceFlush(ctx) }

// Shutdown exports the spans still queued and stops the exporter, until
// ctx ends (what is left then is dropped). Spans ended afterwards are
// dropped. Safe to call more than once.
func (p *Provider) Shutdown(ctx context.Context) error { return p.tp.Shutdown(ctx) }
