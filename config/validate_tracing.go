package config

import (
	"math"
	"net/url"
	"strings"
)

// validateTracing checks tracing.*. The keys are checked even while
// otlp_endpoint is empty, so that turning tracing on later cannot surface
// an old mistake.
func (c *Config) validateTracing(p *problems) {
	t := c.Tracing
	if t.OTLPEndpoint != "" {
		if _, problem := parseOTLPEndpoint(t.OTLPEndpoint); problem != "" {
			shown := t.OTLPEndpoint
			if u, err := url.Parse(shown); err == nil && u.User != nil {
				shown = u.Redacted() // never print a password
			}
			p.add("tracing.otlp_endpoint", "%q %s", shown, problem)
		}
	}
	if math.IsNaN(t.SampleRatio) || t.SampleRatio < 0 || t.SampleRatio > 1 {
		p.add("tracing.sample_ratio", "%v is out of range; write a number from 0 to 1, e.g. 0.1 (10 %% of new traces), 1 (all) or 0 (only those a client's traceparent samples)", t.SampleRatio)
	}
	switch s := t.ServiceName; {
	case strings.TrimSpace(s) == "":
		p.add("tracing.service_name", "empty; name the service the spans belong to, e.g. gatehouse")
	case len(s) > 255 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		p.add("tracing.service_name", "%q: want up to 255 printable characters, e.g. gatehouse", clipShown(s))
	}
}

// parseOTLPEndpoint parses tracing.otlp_endpoint: an http or https URL
// with a host, an optional base path, no credentials, query or fragment.
// problem is "" when it is valid.
func parseOTLPEndpoint(raw string) (u *url.URL, problem string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, "is not a URL; write e.g. \"http://otel-collector:4318\""
	case u.Scheme == "" || u.Opaque != "":
		return nil, "has no scheme; write e.g. \"http://otel-collector:4318\" (OTLP over HTTP)"
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "has scheme " + u.Scheme + "; want http or https (OTLP over HTTP, e.g. \"http://otel-collector:4318\"; gRPC is not supported)"
	case u.Host == "" || u.Hostname() == "":
		return nil, "has no host; write e.g. \"http://otel-collector:4318\""
	case u.User != nil:
		return nil, "carries credentials; endpoint URLs may not contain user:password@ (send a collector token with OTEL_EXPORTER_OTLP_HEADERS)"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, "has a query or fragment; write the collector's base URL, e.g. \"http://otel-collector:4318\" (/v1/traces is added)"
	}
	return u, ""
}

// OTLPEndpointURL is tracing.otlp_endpoint, parsed; nil when empty (tracing
// off) or invalid.
func (t Tracing) OTLPEndpointURL() *url.URL {
	if t.OTLPEndpoint == "" {
		return nil
	}
	u, _ := parseOTLPEndpoint(t.OTLPEndpoint)
	return u
}

// clipShown shortens a value quoted in a problem to 64 bytes.
func clipShown(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
