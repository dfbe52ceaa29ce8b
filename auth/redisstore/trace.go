package redisstore

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traceHook makes a client span of every Redis command (one per pipeline)
// sent while the caller's context holds a span: a request's store calls
// become children of its server span. Background work (the revocation
// sweep, health pings) starts no trace of its own. Only the command's name
// is recorded: keys hold session IDs and token IDs, values hold sessions,
// so arguments and error texts are never attributes.
type traceHook struct{ tracer trace.Tracer }

func newTraceHook(tp trace.TracerProvider) traceHook {
	return traceHook{tracer: tp.Tracer("github.com/gatehouse-proxy/gatehouse/auth/redisstore")}
}

var (
	dbSystem   = attribute.String("db.system.name", "redis")
	clientKind = trace.WithSpanKind(trace.SpanKindClient)
)

func (h traceHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h traceHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return next(ctx, cmd)
		}
		op := strings.ToUpper(cmd.Name())
		ctx, span := h.tracer.Start(ctx, "redis "+op, clientKind,
			trace.WithAttributes(dbSystem, attribute.String("db.operation.name", op)))
		err := next(ctx, cmd)
		end(span, realErr(err))
		return err
	}
}

func (h traceHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return next(ctx, cmds)
		}
		ctx, span := h.tracer.Start(ctx, "redis pipeline", clientKind,
			trace.WithAttributes(dbSystem, attribute.String("db.operation.name", "PIPELINE"),
				attribute.Int("db.operation.batch.size", len(cmds))))
		err := next(ctx, cmds)
		end(span, realErr(err))
		return err
	}
}

// end ends span, marked as an error (without the error's text) when err
// is not nil.
func end(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "redis command failed")
	}
	span.End()
}
