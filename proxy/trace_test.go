package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/tracing"
	"github.com/gatehouse-proxy/gatehouse/tracing/otlptest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Secrets the traced requests carry; none may appear in what is exported.
const (
	secretBearer  = "tok-SECRET-BEARER-5f1e"
	secretSession = "SECRET-SESSION-9a7c"
	secretQuery   = "SECRET-QUERY-3b2d"
)

// tracedHarness is the proxy harness behind tracing.Handler, with the
// upstream transport instrumented, exporting to a real OTLP/HTTP endpoint
// (coll) at sample ratio ratio. Access lines go to log.
type tracedHarness struct {
	*harness
	coll *otlptest.Collector
	tp   *tracing.Provider
	log  *lockedBuffer
}

func newTracedHarness(t *testing.T, ratio float64, tune func(*Options)) *tracedHarness {
	t.Helper()
	th := &tracedHarness{coll: otlptest.Start(t), log: &lockedBuffer{}}
	var err error
	th.tp, err = tracing.New(tracing.Options{Endpoint: mustURL(t, th.coll.URL), SampleRatio: ratio, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = th.tp.Shutdown(context.Background()) })
	var opts Options
	th.harness = newHarness(t, func(o *Options) {
		o.Bearer = tokenTable{secretBearer: {id: alice}}
		o.Sessions = cookieTable{secretSession: {Subject: "bob", User: "bob", Method: auth.MethodSession}}
		o.Logger = slog.New(slog.NewJSONHandler(th.log, nil))
		o.Traced = true
		o.Transport = tracing.Transport(NewTransport(10*time.Second), th.tp.TracerProvider(), "upstream")
		if tune != nil {
			tune(o)
		}
		opts = *o
	})
	// The harness serves the untraced Handler; serve the same options
	// behind the tracing middleware instead, as cmd/gatehouse wires it.
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	th.proxy.Close()
	th.proxy = httptest.NewServer(tracing.Handler(h, th.tp.TracerProvider()))
	t.Cleanup(th.proxy.Close)
	return th
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// flush makes the provider export what it holds now.
func (th *tracedHarness) flush() {
	th.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := th.tp.ForceFlush(ctx); err != nil {
		th.t.Fatalf("ForceFlush: %v", err)
	}
}

// accessLine waits for the access line of requestID.
func (th *tracedHarness) accessLine(requestID string) map[string]any {
	th.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range strings.Split(th.log.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["request_id"] == requestID {
				return m
			}
		}
		if time.Now().After(deadline) {
			th.t.Fatalf("no access line for request %s in:\n%s", requestID, th.log.String())
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

func one(t *testing.T, spans []otlptest.Span, name string) otlptest.Span {
	t.Helper()
	got := otlptest.Named(spans, name)
	if len(got) != 1 {
		t.Fatalf("%d spans named %q, want 1; got:\n%s", len(got), name, otlptest.Describe(spans))
	}
	return got[0]
}

func wantAttrs(t *testing.T, s otlptest.Span, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := s.Attrs[k]; !ok || got != v {
			t.Errorf("span %q: %s = %q (present %v), want %q", s.Name, k, got, ok, v)
		}
	}
}

// TestTraceProxiedRequest: a proxied request continues the client's
// traceparent in a server span named after its route, with the upstream
// round trip as its child; the upstream receives the upstream span's
// traceparent; the access line carries the trace ID; and none of the
// request's secrets (Bearer token, session cookie, query string) is in any
// exported byte (README "Tracing").
func TestTraceProxiedRequest(t *testing.T) {
	th := newTracedHarness(t, 0, nil) // ratio 0: only the client's sampled flag samples
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := th.do(http.MethodGet, "/api/things?token="+secretQuery,
		"Authorization: Bearer "+secretBearer, "Cookie: sid="+secretSession,
		"Traceparent: 00-"+traceID+"-"+parentID+"-01", "Tracestate: vendor=abc")
	e := echoed(t, resp)
	th.flush()
	spans := th.coll.Wait(t, 5*time.Second, "server and upstream spans", func(s []otlptest.Span) bool { return len(s) >= 2 })

	srv := one(t, spans, "gatehouse api")
	if srv.Kind != tracepb.Span_SPAN_KIND_SERVER || srv.TraceID != traceID || srv.ParentID != parentID {
		t.Errorf("server span: kind %v trace %s parent %s; want a server span continuing %s/%s", srv.Kind, srv.TraceID, srv.ParentID, traceID, parentID)
	}
	rid := resp.Header.Get("X-Request-Id")
	wantAttrs(t, srv, map[string]string{
		"http.route": "api", "http.request.method": "GET", "http.response.status_code": "200",
		"gatehouse.auth": "jwt", "gatehouse.outcome": "allowed", "gatehouse.request_id": rid,
	})
	if _, ok := srv.Attrs["enduser.id"]; ok {
		t.Errorf("enduser.id set without TraceUser: %v", srv.Attrs)
	}
	if srv.Service != "gatehouse" || srv.Resource["service.version"] != "test" {
		t.Errorf("resource: %v, want service.name gatehouse, service.version test", srv.Resource)
	}

	up := one(t, spans, "upstream GET")
	if up.Kind != tracepb.Span_SPAN_KIND_CLIENT || up.TraceID != traceID || up.ParentID != srv.SpanID {
		t.Errorf("upstream span: kind %v trace %s parent %s; want a client span, child of the server span %s", up.Kind, up.TraceID, up.ParentID, srv.SpanID)
	}
	if got, want := up.Attrs["url.full"], th.upstream.URL+"/api/things"; got != want {
		t.Errorf("upstream url.full = %q, want %q (no query)", got, want)
	}
	if got, want := e.Headers["Traceparent"], []string{"00-" + traceID + "-" + up.SpanID + "-01"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("upstream received traceparent %q, want %q (the upstream span's)", got, want)
	}
	if got := e.Headers["Tracestate"]; len(got) != 1 || got[0] != "vendor=abc" {
		t.Errorf("upstream received tracestate %q, want the client's vendor=abc", got)
	}
	if line := th.accessLine(rid); line["trace_id"] != traceID {
		t.Errorf("access line trace_id = %v, want %s", line["trace_id"], traceID)
	}
	raw := th.coll.Raw()
	for _, secret := range []string{secretBearer, secretSession, secretQuery, "Bearer", "sid="} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the export contains %q", secret)
		}
	}
}

// TestTraceUser: enduser.id only with Options.TraceUser (tracing.user).
func TestTraceUser(t *testing.T) {
	th := newTracedHarness(t, 1, func(o *Options) { o.TraceUser = true })
	echoed(t, th.do(http.MethodGet, "/api/x", "Authorization: Bearer "+secretBearer))
	th.do(http.MethodGet, "/public/x")
	th.flush()
	spans := th.coll.Wait(t, 5*time.Second, "two server spans", func(s []otlptest.Span) bool {
		return len(otlptest.Named(s, "gatehouse api")) == 1 && len(otlptest.Named(s, "gatehouse public")) == 1
	})
	wantAttrs(t, one(t, spans, "gatehouse api"), map[string]string{"enduser.id": "alice"})
	if _, ok := one(t, spans, "gatehouse public").Attrs["enduser.id"]; ok {
		t.Error("enduser.id on an auth: none request")
	}
}

// TestTraceSampling: at ratio 0 a request without traceparent exports
// nothing, and one whose traceparent is not sampled exports nothing either,
// yet its trace ID still reaches the upstream and the access line.
func TestTraceSampling(t *testing.T) {
	th := newTracedHarness(t, 0, nil)
	resp := th.do(http.MethodGet, "/public/a")
	e := echoed(t, resp)
	tp := e.Headers["Traceparent"]
	if len(tp) != 1 || !strings.HasSuffix(tp[0], "-00") {
		t.Fatalf("upstream traceparent %q, want one, not sampled (-00)", tp)
	}
	line := th.accessLine(resp.Header.Get("X-Request-Id"))
	if id, _ := line["trace_id"].(string); len(id) != 32 || !strings.Contains(tp[0], id) {
		t.Errorf("access line trace_id %v, want the trace ID of %s", line["trace_id"], tp[0])
	}
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	e = echoed(t, th.do(http.MethodGet, "/public/b", "Traceparent: 00-"+traceID+"-b7ad6b7169203331-00"))
	if got := e.Headers["Traceparent"]; len(got) != 1 || !strings.HasPrefix(got[0], "00-"+traceID+"-") {
		t.Errorf("upstream traceparent %q, want the client's trace %s continued", got, traceID)
	} else if strings.Contains(got[0], "-b7ad6b7169203331-") {
		t.Errorf("upstream traceparent %q: the client's parent ID passed on, want Gatehouse's server span as the parent", got[0])
	}
	th.flush()
	if spans := th.coll.Spans(); len(spans) != 0 {
		t.Errorf("exported %d spans at ratio 0 without a sampled parent:\n%s", len(spans), otlptest.Describe(spans))
	}
}

// TestTraceReservedForwardAuthAndErrors: reserved paths, forward-auth
// decisions, refusals and upstream failures get server spans too; a 5xx
// marks the span as an error.
func TestTraceReservedForwardAuthAndErrors(t *testing.T) {
	dead := mustURL(t, "http://"+authtest.RefusingAddr(t))
	th := newTracedHarness(t, 1, func(o *Options) {
		o.ForwardAuth = true
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		o.Routes = append([]Route{{Name: "down", PathPrefix: "/down/", Auth: AuthNone, Upstream: dead}}, o.Routes...)
	})
	th.do(http.MethodGet, ReservedPrefix+"nothing")
	th.nginxAsk("GET", "/api/x", "Authorization: Bearer "+secretBearer)
	if resp := th.do(http.MethodGet, "/down/x"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("dead upstream: status %d, want 502", resp.StatusCode)
	}
	th.do(http.MethodGet, "/public/%2e%2e/api")
	th.flush()
	spans := th.coll.Wait(t, 5*time.Second, "four server spans", func(s []otlptest.Span) bool {
		n := 0
		for _, sp := range s {
			if sp.Kind == tracepb.Span_SPAN_KIND_SERVER {
				n++
			}
		}
		return n == 4
	})
	wantAttrs(t, one(t, spans, "gatehouse _gatehouse"), map[string]string{"http.route": "_gatehouse", "http.response.status_code": "404"})
	fa := one(t, spans, "gatehouse api")
	wantAttrs(t, fa, map[string]string{"http.route": "api", "gatehouse.forward_auth": "true", "gatehouse.outcome": "allowed", "http.response.status_code": "200"})
	down := one(t, spans, "gatehouse down")
	wantAttrs(t, down, map[string]string{"http.response.status_code": "502"})
	if down.Status != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("502 span status %v, want error", down.Status)
	}
	if up := one(t, spans, "upstream GET"); up.ParentID != down.SpanID || up.Status != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("failed upstream span: parent %s status %v, want child of %s with error", up.ParentID, up.Status, down.SpanID)
	}
	wantAttrs(t, one(t, spans, "gatehouse _refused"), map[string]string{"gatehouse.outcome": "bad_request", "http.response.status_code": "400"})
}

// TestTraceCollectorDown: a collector that refuses every export, and one
// that cannot be reached, never fail or slow a request; spans that cannot
// go are counted as dropped.
func TestTraceCollectorDown(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest) // not retried by the exporter
	}))
	defer refusing.Close()
	for _, tt := range []struct {
		name, endpoint string
		queue          int
		reason         string
	}{
		{"refused", refusing.URL, 0, metrics.SpansDroppedExportError},
		{"unreachable", "http://" + authtest.RefusingAddr(t), 4, metrics.SpansDroppedQueueFull},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			tp, err := tracing.New(tracing.Options{Endpoint: mustURL(t, tt.endpoint), SampleRatio: 1, QueueSize: tt.queue, OnDrop: hs.m.DropSpans})
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(context.Background())
			h, err := New(Options{Routes: testRoutes(), Upstream: mustURL(t, hs.upstream.URL), Metrics: hs.m, Traced: true,
				Transport: tracing.Transport(nil, tp.TracerProvider(), "upstream")})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(tracing.Handler(h, tp.TracerProvider()))
			defer srv.Close()
			for i := range 20 {
				start := time.Now()
				resp, err := noRedirect.Get(srv.URL + "/public/x")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || time.Since(start) > 2*time.Second {
					t.Fatalf("request %d: status %d after %v, want 200 at once", i, resp.StatusCode, time.Since(start))
				}
			}
			if tt.reason == metrics.SpansDroppedExportError {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = tp.ForceFlush(ctx)
			}
			c := hs.m.SpansDropped.WithLabelValues(tt.reason)
			deadline := time.Now().Add(10 * time.Second)
			for testutil.ToFloat64(c) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("gatehouse_tracing_spans_dropped_total{reason=%q} still 0", tt.reason)
				}
				time.Sleep(10 * time.Millisecond) // poll interval
			}
		})
	}
}

// TestTraceWebSocket: the instrumented transport keeps an upgraded
// connection's body writable, so a WebSocket tunnel still works traced; its
// spans end when the tunnel closes.
func TestTraceWebSocket(t *testing.T) {
	rec := newRecorder(t)
	th := newTracedHarness(t, 1, func(o *Options) {
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: rec.url()}}
	})
	conn, br := wsHandshake(t, th.harness, "/ws")
	_, _ = conn.Write([]byte("hi\n"))
	if line, _ := br.ReadString('\n'); line != "tunnel:hi\n" {
		t.Fatalf("got %q over the traced tunnel, want tunnel:hi", line)
	}
	conn.Close()
	spans := th.coll.Wait(t, 10*time.Second, "the tunnel's spans", func(s []otlptest.Span) bool {
		_ = th.tp.ForceFlush(context.Background())
		return len(otlptest.Named(s, "gatehouse open")) == 1 && len(otlptest.Named(s, "upstream GET")) == 1
	})
	wantAttrs(t, one(t, spans, "gatehouse open"), map[string]string{"http.route": "open", "gatehouse.outcome": "allowed"})
}

// TestTraceOff: without Options.Traced (tracing off) the proxy does no
// tracing work: a client's traceparent reaches the upstream untouched, and
// the access line has no trace_id.
func TestTraceOff(t *testing.T) {
	log := &lockedBuffer{}
	hs := newHarness(t, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(log, nil)) })
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	resp := hs.do(http.MethodGet, "/public/x", "Traceparent: "+tp)
	if got := echoed(t, resp).Headers["Traceparent"]; len(got) != 1 || got[0] != tp {
		t.Errorf("upstream traceparent %q, want the client's %q untouched", got, tp)
	}
	hs.proxy.Close() // the access line is written before the handler returns
	if strings.Contains(log.String(), "trace_id") || !strings.Contains(log.String(), `"msg":"request"`) {
		t.Errorf("access line with tracing off: %s; want one, without trace_id", log.String())
	}
}

// TestTraceDropsOrphanTracestate: a tracestate whose traceparent was
// missing or invalid is not sent upstream beside the trace Gatehouse
// started (W3C Trace Context), sampled or not.
func TestTraceDropsOrphanTracestate(t *testing.T) {
	for _, ratio := range []float64{0, 1} {
		th := newTracedHarness(t, ratio, nil)
		for _, headers := range [][]string{
			{"Tracestate: vendor=abc"},
			{"Traceparent: 00-not-a-trace-01", "Tracestate: vendor=abc"},
		} {
			e := echoed(t, th.do(http.MethodGet, "/public/x", headers...))
			if got := e.Headers["Tracestate"]; len(got) != 0 || len(e.Headers["Traceparent"]) != 1 {
				t.Errorf("ratio %v, %q: upstream tracestate %q traceparent %q; want Gatehouse's traceparent only", ratio, headers, got, e.Headers["Traceparent"])
			}
		}
	}
}
