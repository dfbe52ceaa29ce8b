package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const issue9ProxyConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
server: {body_timeout: 300ms}
routes:
  - {name: public, match: {path_prefix: "/"}, auth: none}
`

// TestIssue9ErrorBodiesThroughServe: every JSON error body Gatehouse's own
// endpoints answer (the reserved /.gatehouse/ mux, the admin listener) has
// error, error_description and request_id (GET /.gatehouse/nope had no
// error_description).
func TestIssue9ErrorBodiesThroughServe(t *testing.T) {
	t.Parallel()
	in := startGatehouse(t, issue9ProxyConfig, nil)
	for _, tc := range []struct {
		method, url string
		status      int
	}{
		{"GET", in.URL + "/.gatehouse/nope", 404},
		{"PUT", in.URL + "/.gatehouse/login", 405},
		{"DELETE", in.URL + "/.gatehouse/userinfo", 405},
		{"GET", in.URL + "/.gatehouse/userinfo", 401},
		{"GET", in.URL + "/a/%2e%2e/b", 400},
		{"GET", in.AdminURL + "/nope", 404},
		{"GET", in.AdminURL + "/admin/sessions", 404},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b map[string]any
		err = json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil {
			t.Errorf("%s %s: status %d (%v), want %d with JSON", tc.method, tc.url, resp.StatusCode, err, tc.status)
			continue
		}
		for _, k := range []string{"error", "error_description", "request_id"} {
			if s, ok := b[k].(string); !ok || s == "" {
				t.Errorf("%s %s: member %q missing or empty in %v", tc.method, tc.url, k, b)
			}
		}
	}
}

// TestIssue9ServeWiresStripHeadersAndBodyTimeout: strip_headers' default
// and server.body_timeout reach the proxy.
func TestIssue9ServeWiresStripHeadersAndBodyTimeout(t *testing.T) {
	t.Parallel()
	in := startGatehouse(t, issue9ProxyConfig, nil)
	resp, body := get(t, in.URL+"/x", "X-Real-IP: 6.6.6.6", "X-HTTP-Method-Override: DELETE", "X-Original-URL: /admin", "Remote-User: admin")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, h := range []string{"X-Real-Ip", "X-Http-Method-Override", "X-Original-Url", "Remote-User"} {
		if strings.Contains(body, `"`+h+`"`) {
			t.Errorf("upstream received %s: %s", h, body)
		}
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = conn.Write([]byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nab"))
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled body not cut: %v", err)
	}
	if r.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled body: status %d, want 408", r.StatusCode)
	}
}
