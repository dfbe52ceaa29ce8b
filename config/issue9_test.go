package config

import (
	"slices"
	"testing"
	"time"
)

// TestIssue9StripHeadersAndBodyTimeoutDefaults: the defaults are the README's
// (Configuration reference), and the keys load from a file and from the environment.
func TestIssue9StripHeadersAndBodyTimeoutDefaults(t *testing.T) {
	c := Default()
	want := []string{"X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "X-Original-URL",
		"X-Rewrite-URL", "X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "Remote-User", "X-Forwarded-User"}
	if !slices.Equal(c.StripHeaders, want) {
		t.Errorf("strip_headers default %q, want %q", c.StripHeaders, want)
	}
	if c.Server.BodyTimeout != 30*time.Second {
		t.Errorf("server.body_timeout default %v, want 30s", c.Server.BodyTimeout)
	}
	path := writeConfig(t, `
upstream: "http://127.0.0.1:3000"
server: {body_timeout: 0}
strip_headers: [X-Custom-Override]
routes: [{name: public, match: {path_prefix: "/"}, auth: none}]
`)
	got, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.StripHeaders, []string{"X-Custom-Override"}) || got.Server.BodyTimeout != 0 {
		t.Errorf("from file: strip_headers %q, body_timeout %v", got.StripHeaders, got.Server.BodyTimeout)
	}
	got, err = Load(path, []string{"GATEHOUSE_STRIP_HEADERS=A-One,B-Two", "GATEHOUSE_SERVER__BODY_TIMEOUT=5s"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.StripHeaders, []string{"A-One", "B-Two"}) || got.Server.BodyTimeout != 5*time.Second {
		t.Errorf("from env: strip_headers %q, body_timeout %v", got.StripHeaders, got.Server.BodyTimeout)
	}
	path = writeConfig(t, `
upstream: "http://127.0.0.1:3000"
strip_headers: []
routes: [{name: public, match: {path_prefix: "/"}, auth: none}]
`)
	if got, err = Load(path, nil); err != nil || len(got.StripHeaders) != 0 {
		t.Errorf("strip_headers: [] gave %q, %v; want none", got.StripHeaders, err)
	}
}

func TestIssue9ValidateStripHeadersAndBodyTimeout(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"body timeout off", func(c *Config) { c.Server.BodyTimeout = 0 }, nil},
		{"body timeout negative", func(c *Config) { c.Server.BodyTimeout = -time.Second },
			[]string{`server.body_timeout: -1s is negative; write e.g. "30s", or 0 to turn the guard off`}},
		{"strip none", func(c *Config) { c.StripHeaders = nil }, nil},
		{"strip bad", func(c *Config) { c.StripHeaders = []string{"X-Ok", "Bad Name", "content_length", "Host"} },
			[]string{
				`strip_headers[1]: "Bad Name" is not a valid header name`,
				`strip_headers[2]: "content_length" cannot be stripped: Gatehouse needs it to frame or forward the request, or sets it itself`,
				`strip_headers[3]: "Host" cannot be stripped: Gatehouse needs it to frame or forward the request, or sets it itself`,
			}},
	})
}

func TestIssue9ValidateRouteHost(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"trailing dot and case ok", func(c *Config) { c.Routes[0].Match.Host = "Internal.Example.com." }, nil},
		{"ipv6 ok", func(c *Config) { c.Routes[0].Match.Host = "[::1]" }, nil},
		{"brackets not ipv6", func(c *Config) { c.Routes[0].Match.Host = "[app.example]" },
			[]string{`routes[0].match.host: "[app.example]": brackets are for IPv6 addresses only, e.g. "[::1]"`}},
		{"only dots", func(c *Config) { c.Routes[0].Match.Host = ".." },
			[]string{`routes[0].match.host: ".." is empty once trailing dots are removed; write e.g. "app.example.com"`}},
	})
}
