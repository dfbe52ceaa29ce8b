package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/tracing/otlptest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// tracingConfig: the Redis store, the sign-in form, the token endpoint and
// a route of each auth mode, exporting every trace to {{otlp}}.
const tracingConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
store: {type: redis, redis: {addrs: ["{{redis}}"]}}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issue: {issuer: "http://gatehouse.test", signing_key_file: "{{dir}}/issuing.pem"}
tracing: {otlp_endpoint: "{{otlp}}", sample_ratio: 1, service_name: edge, user: {{user}}}
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

func startTraced(t *testing.T, coll *otlptest.Collector, redisAddr string, user bool) *instance {
	t.Helper()
	cfg := strings.NewReplacer("{{otlp}}", coll.URL, "{{redis}}", redisAddr, "{{user}}", map[bool]string{true: "true", false: "false"}[user]).Replace(tracingConfig)
	in := startGatehouse(t, cfg, map[string]string{"users.yaml": sessUsersYAML(t), "issuing.pem": signingKey(t, "ES256")})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	return in
}

// TestServeTracing runs `gatehouse serve` with tracing on and checks what
// reaches a real OTLP/HTTP endpoint: the sign-in, a session request that
// continues the client's trace (server span, its Redis and upstream
// children, the traceparent the upstream saw), a Bearer request, the
// service name and user; and that neither the password, the session
// cookie, the tokens nor a query string is anywhere in the export.
func TestServeTracing(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // export within 50 ms
	r := authtest.StartRedis(t)
	coll := otlptest.Start(t)
	in := startTraced(t, coll, r.Addr, true)

	w := newWebClient(t, in.URL)
	w.mustLogin("alice", sessAlicePassword, "/app/")
	cookie := w.cookie("gatehouse_session")
	const traceID, parent = "5bf92f3577b34da6a3ce929d0e0e4736", "10f067aa0ba902b7"
	const query = "SECRET-QUERY-6c1f"
	e := w.upstreamSaw("/app/x?token="+query, "Traceparent: 00-"+traceID+"-"+parent+"-01")
	status, tok := postForm(t, in.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {sessAlicePassword}})
	access, _ := tok["access_token"].(string)
	refresh, _ := tok["refresh_token"].(string)
	if status != 200 || access == "" || refresh == "" {
		t.Fatalf("password grant: %d %v", status, tok)
	}
	if resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+access); resp.StatusCode != 200 {
		t.Fatalf("Bearer request: status %d", resp.StatusCode)
	}

	spans := coll.Wait(t, 10*time.Second, "the session and Bearer requests' spans", func(s []otlptest.Span) bool {
		return len(otlptest.Named(s, "gatehouse app")) == 1 && len(otlptest.Named(s, "gatehouse api")) == 1 &&
			len(otlptest.Named(s, "upstream GET")) == 2
	})
	app := otlptest.Named(spans, "gatehouse app")[0]
	if app.TraceID != traceID || app.ParentID != parent || app.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("session request's span: trace %s parent %s kind %v, want the client's trace %s continued from %s", app.TraceID, app.ParentID, app.Kind, traceID, parent)
	}
	for k, v := range map[string]string{"http.route": "app", "gatehouse.auth": "session", "gatehouse.outcome": "allowed",
		"http.response.status_code": "200", "enduser.id": "alice"} {
		if app.Attrs[k] != v {
			t.Errorf("session request's span: %s = %q, want %q", k, app.Attrs[k], v)
		}
	}
	if app.Service != "edge" {
		t.Errorf("service.name %q, want edge (tracing.service_name)", app.Service)
	}
	var upstreamID string
	redisChildren := 0
	for _, s := range spans {
		switch {
		case s.ParentID != app.SpanID:
		case s.Name == "upstream GET":
			upstreamID = s.SpanID
		case strings.HasPrefix(s.Name, "redis "):
			redisChildren++
		}
	}
	if upstreamID == "" || redisChildren == 0 {
		t.Errorf("session request's children: upstream %q, %d redis spans; want both:\n%s", upstreamID, redisChildren, otlptest.Describe(spans))
	}
	if got, want := echoHeader(e, "Traceparent"), "00-"+traceID+"-"+upstreamID+"-01"; got != want {
		t.Errorf("upstream saw traceparent %q, want %q", got, want)
	}
	if len(otlptest.Named(spans, "gatehouse _gatehouse")) < 3 { // login page, login POST, token
		t.Errorf("reserved endpoints: want a span each:\n%s", otlptest.Describe(spans))
	}
	raw := coll.Raw()
	for name, secret := range map[string]string{"password": sessAlicePassword, "session cookie": cookie,
		"access token": access, "refresh token": refresh, "query": query} {
		if secret == "" || bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the export contains the %s (%q)", name, secret)
		}
	}
	if !strings.Contains(in.stdout.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("no access line with trace_id %s in:\n%s", traceID, in.stdout.String())
	}
}

// TestServeTracingNoUserFlushOnShutdown: with tracing.user false no span
// names the user; spans still queued when Gatehouse stops are exported
// before it exits (the batch timer alone would wait ten minutes).
func TestServeTracingNoUserFlushOnShutdown(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
	r := authtest.StartRedis(t)
	coll := otlptest.Start(t)
	in := startTraced(t, coll, r.Addr, false)
	w := newWebClient(t, in.URL)
	w.mustLogin("alice", sessAlicePassword, "/app/")
	w.upstreamSaw("/app/x")
	if n := len(coll.Spans()); n != 0 {
		t.Fatalf("%d spans exported before shutdown with a 10-minute batch delay", n)
	}
	in.cancel() // SIGTERM
	spans := coll.Wait(t, 10*time.Second, "spans flushed at shutdown", func(s []otlptest.Span) bool {
		return len(otlptest.Named(s, "gatehouse app")) == 1
	})
	if _, ok := otlptest.Named(spans, "gatehouse app")[0].Attrs["enduser.id"]; ok || bytes.Contains(coll.Raw(), []byte("alice")) {
		t.Errorf("tracing.user false, yet the user is in the export:\n%s", otlptest.Describe(spans))
	}
}

// TestTracingRestartOnly: a reload that changes the exporter's settings
// says they need a restart; tracing.user applies on reload.
func TestTracingRestartOnly(t *testing.T) {
	old := config.Default()
	for _, tt := range []struct {
		set  func(*config.Tracing)
		want []string
	}{
		{func(c *config.Tracing) { c.OTLPEndpoint = "http://otel:4318" }, []string{"tracing.otlp_endpoint"}},
		{func(c *config.Tracing) { c.SampleRatio = 1 }, []string{"tracing.sample_ratio"}},
		{func(c *config.Tracing) { c.ServiceName = "edge" }, []string{"tracing.service_name"}},
		{func(c *config.Tracing) { c.User = true }, nil},
	} {
		cur := config.Default()
		tt.set(&cur.Tracing)
		if got := restartOnly(&old, &cur); !slices.Equal(got, tt.want) {
			t.Errorf("restartOnly after %+v: %v, want %v", cur.Tracing, got, tt.want)
		}
	}
}

// TestServeTracingJWKSAndIdP: JWKS fetches and IdP fetches are client spans
// (the background ones, roots of their own traces), with url.full without
// the query.
func TestServeTracingJWKSAndIdP(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	coll := otlptest.Start(t)
	var issuer string
	idpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/jwks":
			_, _ = w.Write([]byte(`{"keys":[]}`))
		case "/.well-known/openid-configuration":
			_, _ = w.Write([]byte(`{"issuer":"` + issuer + `","authorization_endpoint":"` + issuer + `/auth","token_endpoint":"` + issuer +
				`/token","jwks_uri":"` + issuer + `/jwks","id_token_signing_alg_values_supported":["ES256"]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer idpSrv.Close()
	issuer = idpSrv.URL
	cfg := strings.NewReplacer("{{otlp}}", coll.URL, "{{issuer}}", issuer).Replace(`
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
session: {secure: false}
jwt:
  issuers:
    - {issuer: "{{issuer}}", audiences: [api], algorithms: [ES256], jwks_url: "{{issuer}}/jwks?key=SECRET-JWKS-QUERY"}
oidc:
  providers:
    - {name: corp, issuer: "{{issuer}}", client_id: gatehouse, client_secret_file: "{{dir}}/secret",
       redirect_url: "http://{{listen}}/.gatehouse/oidc/callback"}
tracing: {otlp_endpoint: "{{otlp}}", sample_ratio: 1}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: any}
`)
	startGatehouse(t, cfg, map[string]string{"secret": "SECRET-CLIENT-SECRET\n"})
	spans := coll.Wait(t, 10*time.Second, "a JWKS and a discovery fetch", func(s []otlptest.Span) bool {
		return len(otlptest.Named(s, "jwks GET")) > 0 && len(otlptest.Named(s, "idp GET")) > 0
	})
	if got := otlptest.Named(spans, "jwks GET")[0]; got.Attrs["url.full"] != issuer+"/jwks" || got.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("JWKS span: kind %v url.full %q, want a client span of %s/jwks", got.Kind, got.Attrs["url.full"], issuer)
	}
	found := false
	for _, s := range otlptest.Named(spans, "idp GET") {
		found = found || s.Attrs["url.full"] == issuer+"/.well-known/openid-configuration"
	}
	if !found {
		t.Errorf("no discovery span:\n%s", otlptest.Describe(spans))
	}
	raw := coll.Raw()
	for _, secret := range []string{"SECRET-JWKS-QUERY", "SECRET-CLIENT-SECRET"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the export contains %q", secret)
		}
	}
}
