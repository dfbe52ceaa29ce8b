package tracing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// boundedQueue admits at most limit sampled spans into the batch processor
// at a time (queued or being exported) and counts the rest as dropped.
// The SDK's processor drops on a full queue without telling anyone; in
// front of it, every drop is seen. OnEnd never blocks.
type boundedQueue struct {
	next   sdktrace.SpanProcessor // the batch processor
	limit  int64
	queued atomic.Int64 // admitted and not yet through the exporter
	onDrop func(reason string, n int)
}

func (q *boundedQueue) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) { q.next.OnStart(ctx, s) }

func (q *boundedQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if q.queued.Add(1) > q.limit {
		q.queued.Add(-1)
		q.onDrop(metrics.SpansDroppedQueueFull, 1)
		return
	}
	q.next.OnEnd(s)
}

func (q *boundedQueue) Shutdown(ctx context.Context) error   { return q.next.Shutdown(ctx) }
func (q *boundedQueue) ForceFlush(ctx context.Context) error { return q.next.ForceFlush(ctx) }

// countingExporter releases the queue's places as batches leave, and counts
// the spans of a failed export as dropped. It reports success to the batch
// processor, which would only hand the error to the process-wide OTel error
// handler; the failure is logged here instead, at most once a minute.
type countingExporter struct {
	next sdktrace.SpanExporter
	q    *boundedQueue
	log  *slog.Logger

	mu       sync.Mutex
	lastLog  time.Time
	failures int // since the last line
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.next.ExportSpans(ctx, spans)
	e.q.queued.Add(-int64(len(spans)))
	if err != nil {
		e.q.onDrop(metrics.SpansDroppedExportError, len(spans))
		e.logFailure(err)
	}
	return nil
}

func (e *countingExporter) logFailure(err error) {
	e.mu.Lock()
	e.failures++
	if time.Since(e.lastLog) < time.Minute {
		e.mu.Unlock()
		return
	}
	n := e.failures
	e.failures, e.lastLog = 0, time.Now()
	e.mu.Unlock()
	e.log.Warn("tracing: span export failed; spans dropped (gatehouse_tracing_spans_dropped_total)",
		"error", err.Error(), "failed_exports", n)
}

func (e *countingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }
