package config

import (
	"testing"
)

func TestValidateTracing(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*Tracing)
		want []string
	}{
		{"defaults: off", func(*Tracing) {}, nil},
		{"http endpoint", func(t *Tracing) { t.OTLPEndpoint = "http://otel-collector:4318" }, nil},
		{"https endpoint with a base path", func(t *Tracing) { t.OTLPEndpoint = "https://otel.example.com/otlp" }, nil},
		{"bounds of the ratio", func(t *Tracing) { t.SampleRatio = 1 }, nil},
		{"zero ratio", func(t *Tracing) { t.SampleRatio = 0 }, nil},
		{"no scheme", func(t *Tracing) { t.OTLPEndpoint = "otel-collector:4318" },
			[]string{`tracing.otlp_endpoint: "otel-collector:4318" has no scheme; write e.g. "http://otel-collector:4318" (OTLP over HTTP)`}},
		{"grpc scheme", func(t *Tracing) { t.OTLPEndpoint = "grpc://otel:4317" },
			[]string{`tracing.otlp_endpoint: "grpc://otel:4317" has scheme grpc; want http or https (OTLP over HTTP, e.g. "http://otel-collector:4318"; gRPC is not supported)`}},
		{"no host", func(t *Tracing) { t.OTLPEndpoint = "http:///v1" },
			[]string{`tracing.otlp_endpoint: "http:///v1" has no host; write e.g. "http://otel-collector:4318"`}},
		{"credentials redacted", func(t *Tracing) { t.OTLPEndpoint = "http://u:hunter2@otel:4318" },
			[]string{`tracing.otlp_endpoint: "http://u:xxxxx@otel:4318" carries credentials; endpoint URLs may not contain user:password@ (send a collector token with OTEL_EXPORTER_OTLP_HEADERS)`}},
		{"query", func(t *Tracing) { t.OTLPEndpoint = "http://otel:4318/?x=1" },
			[]string{`tracing.otlp_endpoint: "http://otel:4318/?x=1" has a query or fragment; write the collector's base URL, e.g. "http://otel-collector:4318" (/v1/traces is added)`}},
		{"ratio over 1", func(t *Tracing) { t.SampleRatio = 1.5 },
			[]string{`tracing.sample_ratio: 1.5 is out of range; write a number from 0 to 1, e.g. 0.1 (10 % of new traces), 1 (all) or 0 (only those a client's traceparent samples)`}},
		{"negative ratio", func(t *Tracing) { t.SampleRatio = -0.1 },
			[]string{`tracing.sample_ratio: -0.1 is out of range; write a number from 0 to 1, e.g. 0.1 (10 % of new traces), 1 (all) or 0 (only those a client's traceparent samples)`}},
		{"empty service name", func(t *Tracing) { t.ServiceName = " " },
			[]string{`tracing.service_name: empty; name the service the spans belong to, e.g. gatehouse`}},
		{"control character in the service name", func(t *Tracing) { t.ServiceName = "a\nb" },
			[]string{`tracing.service_name: "a\nb": want up to 255 printable characters, e.g. gatehouse`}},
	} {
		c := validConfig()
		tt.set(&c.Tracing)
		assertProblems(t, tt.name, c.Validate(), tt.want)
	}
}

func TestTracingDefaultsAndEnv(t *testing.T) {
	d := Default().Tracing
	if d != (Tracing{SampleRatio: 0.1, ServiceName: "gatehouse"}) {
		t.Errorf("Default().Tracing = %+v, want off, 0.1, gatehouse, user false", d)
	}
	if d.OTLPEndpointURL() != nil {
		t.Errorf("OTLPEndpointURL() of the default = %v, want nil (off)", d.OTLPEndpointURL())
	}
	c, err := Load("testdata/full.yaml", []string{
		"GATEHOUSE_TRACING__OTLP_ENDPOINT=http://127.0.0.1:4318",
		"GATEHOUSE_TRACING__SAMPLE_RATIO=0.25",
		"GATEHOUSE_TRACING__SERVICE_NAME=edge",
		"GATEHOUSE_TRACING__USER=true",
	})
	if err != nil {
		t.Fatalf("Load with tracing overrides: %v", err)
	}
	want := Tracing{OTLPEndpoint: "http://127.0.0.1:4318", SampleRatio: 0.25, ServiceName: "edge", User: true}
	if c.Tracing != want {
		t.Errorf("tracing from the environment: got %+v, want %+v", c.Tracing, want)
	}
	if u := c.Tracing.OTLPEndpointURL(); u == nil || u.Host != "127.0.0.1:4318" {
		t.Errorf("OTLPEndpointURL() = %v, want http://127.0.0.1:4318", u)
	}
	_, err = Load("testdata/full.yaml", []string{"GATEHOUSE_TRACING__SAMPLE_RATIO=often", "GATEHOUSE_TRACING__USER=maybe"})
	assertProblems(t, "bad tracing overrides", err, []string{
		`tracing.sample_ratio: "often" is not a number`,
		`tracing.user: "maybe" is not true or false`,
	})
}
