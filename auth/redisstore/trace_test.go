package redisstore

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/tracing"
	"github.com/gatehouse-proxy/gatehouse/tracing/otlptest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestTraceSpans: with a TracerProvider, each command sent under a
// caller's span is a client span, its child, named by the command only; no
// key (a session key, a jti) and no value reaches the export; calls
// without a span start no trace.
func TestTraceSpans(t *testing.T) {
	r := authtest.StartRedis(t)
	coll := otlptest.Start(t)
	u, _ := url.Parse(coll.URL)
	tp, err := tracing.New(tracing.Options{Endpoint: u, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	s := newStore(t, Options{Addrs: []string{r.Addr}, TracerProvider: tp.TracerProvider(), CacheTTL: -1})
	ctx := testCtx(t)
	const key, jti = "5ec7e75e55101dfeedbeef00000000000000000000000000000000000000cafe", "jti-SECRET-77"
	if _, err := s.JTIRevoked(ctx, "untraced-"+jti); err != nil { // no span: no trace
		t.Fatal(err)
	}
	pctx, parent := tp.TracerProvider().Tracer("test").Start(ctx, "request")
	if err := s.CreateSession(pctx, auth.SessionRecord{Key: key, User: "alice", Created: time.Now(), LastSeen: time.Now()}, time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JTIRevoked(pctx, jti); err != nil {
		t.Fatal(err)
	}
	parent.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := coll.Wait(t, 5*time.Second, "the parent span", func(s []otlptest.Span) bool { return len(otlptest.Named(s, "request")) == 1 })
	root := otlptest.Named(spans, "request")[0]
	ids := map[string]bool{}
	for _, sp := range spans {
		ids[sp.SpanID] = true
	}
	redisSpans := 0
	for _, sp := range spans {
		if sp.Name == "request" {
			continue
		}
		// A connection's handshake (HELLO) is the child of the command
		// that dialled it; every span is in the request's trace.
		if sp.ParentID == root.SpanID {
			redisSpans++
		}
		if !strings.HasPrefix(sp.Name, "redis ") || sp.Kind != tracepb.Span_SPAN_KIND_CLIENT || sp.TraceID != root.TraceID ||
			!ids[sp.ParentID] || sp.Attrs["db.system.name"] != "redis" {
			t.Errorf("span %q kind %v parent %s attrs %v: want a redis client span under %s", sp.Name, sp.Kind, sp.ParentID, sp.Attrs, root.SpanID)
		}
	}
	if redisSpans < 2 {
		t.Errorf("%d redis spans, want one per command or pipeline (at least 2):\n%s", redisSpans, otlptest.Describe(spans))
	}
	raw := coll.Raw()
	for _, secret := range []string{key, jti, "alice"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the export contains %q", secret)
		}
	}
}
