package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/tracing"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkTracing compares a jwt route's request with tracing off (no
// middleware, the plain transport: Options.Traced false), on at 10 %
// sampling, on with every request sampled, and on with none sampled (the
// cost of an unsampled request), side by side:
//
//	go test -run '^$' -bench Tracing -benchmem ./proxy
//
// allocs/op includes, when sampled, the exporter's share of a batch (the
// collector here reads and discards what it receives).
func BenchmarkTracing(b *testing.B) {
	up := benchUpstream(b)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(sink.Close)
	sinkURL, _ := url.Parse(sink.URL)
	for _, bc := range []struct {
		name  string
		on    bool
		ratio float64
	}{{"off", false, 0}, {"on-10pct", true, 0.1}, {"on-always", true, 1}, {"on-never", true, 0}} {
		b.Run(bc.name, func(b *testing.B) {
			o := Options{
				Routes: testRoutes(), Upstream: up, Bearer: tokenTable{"good": {id: alice}},
				Metrics: metrics.New(prometheus.NewRegistry(), "bench"), Transport: NewTransport(0),
			}
			var h http.Handler
			if bc.on {
				tp, err := tracing.New(tracing.Options{Endpoint: sinkURL, SampleRatio: bc.ratio})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				o.Traced = true
				o.Transport = tracing.Transport(o.Transport, tp.TracerProvider(), "upstream")
				ph, err := New(o)
				if err != nil {
					b.Fatal(err)
				}
				h = tracing.Handler(ph, tp.TracerProvider())
			} else {
				ph, err := New(o)
				if err != nil {
					b.Fatal(err)
				}
				h = ph
			}
			srv := httptest.NewServer(h)
			b.Cleanup(srv.Close)
			benchLoop(b, srv.URL+"/api/x", "Bearer good")
		})
	}
}
