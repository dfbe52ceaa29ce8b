package proxy

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// spanPrefix starts the server span's name: "gatehouse <route>".
const spanPrefix = "gatehouse "

// annotateSpan names the request's server span (started by the tracing
// middleware around the Handler, Options.Traced) after its route and sets
// what the request came to: the route, method, status, auth mode, outcome,
// request ID, forward_auth for a forward-auth decision, and the user only
// with Options.TraceUser. A status of 500 or more marks the span as an
// error. No path, query, header or credential is ever set. Unsampled
// spans cost a context lookup only.
func (h *Handler) annotateSpan(ctx context.Context, rt *route, x *exchange, method string, status int) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	if x.method != "" {
		method = x.method
	}
	span.SetName(spanPrefix + rt.Name)
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String("http.route", rt.Name),
		attribute.String("http.request.method", httpx.Clip(method)),
		attribute.Int("http.response.status_code", status),
		attribute.String("gatehouse.auth", rt.Auth),
		attribute.String("gatehouse.outcome", x.outcome),
		attribute.String("gatehouse.request_id", x.requestID),
	)
	if x.fwd {
		attrs = append(attrs, attribute.Bool("gatehouse.forward_auth", true))
	}
	if h.traceUser && x.id != nil && x.id.User != "" {
		attrs = append(attrs, attribute.String("enduser.id", httpx.Clip(x.id.User)))
	}
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
}

// appendTraceID adds trace_id to an access line when the request has a
// valid span context, sampled or not: the same ID the upstream received in
// traceparent.
func appendTraceID(ctx context.Context, attrs []slog.Attr) []slog.Attr {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	return attrs
}
