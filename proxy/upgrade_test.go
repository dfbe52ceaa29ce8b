package proxy

// Issue 9, item 3: only WebSocket upgrades pass; cross-origin cookie
// WebSocket handshakes are refused.

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a lenient upstream: it records each request's headers and,
// like an h2c-accepting server, switches protocols whenever it is asked to
// (answering 101 and echoing a line over the raw connection).
type recorder struct {
	mu   sync.Mutex
	seen []http.Header
	srv  *httptest.Server
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Header.Clone())
		rec.mu.Unlock()
		up := r.Header.Get("Upgrade")
		if up == "" {
			_, _ = io.WriteString(w, "plain")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + up + "\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("tunnel:" + line)
		_ = brw.Flush()
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) last(t *testing.T) http.Header {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return rec.seen[len(rec.seen)-1]
}

func (rec *recorder) url() *url.URL {
	u, _ := url.Parse(rec.srv.URL)
	return u
}

// TestIssue9H2CUpgradeNeverReachesUpstream: item 3. An h2c upgrade on an
// auth: none route (and on a jwt route) is stripped with HTTP2-Settings;
// the request goes on as plain HTTP/1.1 and no tunnel opens.
func TestIssue9H2CUpgradeNeverReachesUpstream(t *testing.T) {
	rec := newRecorder(t)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{
			{Name: "open", PathPrefix: "/public/", Auth: AuthNone, Upstream: rec.url()},
			{Name: "api", PathPrefix: "/api/", Auth: AuthJWT, Upstream: rec.url()},
		}
	})
	for _, tc := range []struct{ target, extra string }{
		{"/public/x", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
		{"/public/x", "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
		{"/public/x", "Connection: keep-alive, upgrade\r\nUpgrade: H2C\r\n"},
		{"/public/x", "Connection: Upgrade\r\nUpgrade: TLS/1.2, h2c\r\n"},
		{"/api/x", "Authorization: Bearer good\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
	} {
		resp := hs.rawDo("GET " + tc.target + " HTTP/1.1\r\nHost: x\r\n" + tc.extra + "\r\n")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%q: status %d, want 200 as plain HTTP/1.1 (no tunnel)", tc.extra, resp.StatusCode)
			continue
		}
		got := rec.last(t)
		for _, name := range []string{"Upgrade", "Http2-Settings"} {
			if v, ok := got[name]; ok {
				t.Errorf("%q: upstream received %s: %q", tc.extra, name, v)
			}
		}
		if hasToken(got.Values("Connection"), "upgrade") {
			t.Errorf("%q: upstream received Connection: %q", tc.extra, got.Values("Connection"))
		}
	}
}

// TestIssue9WebSocketUpgradeStillPasses: only websocket is passed, exactly.
func TestIssue9WebSocketUpgradeStillPasses(t *testing.T) {
	rec := newRecorder(t)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: rec.url()}}
	})
	for _, offer := range []string{"websocket", "WebSocket", "websocket, h2c"} {
		conn, br := wsHandshake(t, hs, "/ws", "Upgrade: "+offer)
		if got := rec.last(t).Values("Upgrade"); len(got) != 1 || got[0] != "websocket" {
			t.Errorf("offer %q: upstream Upgrade %q, want [websocket]", offer, got)
		}
		_, _ = conn.Write([]byte("hi\n"))
		if line, _ := br.ReadString('\n'); line != "tunnel:hi\n" {
			t.Errorf("offer %q: got %q over the tunnel", offer, line)
		}
	}
}

// wsHandshake sends a WebSocket handshake with extra header lines and
// expects 101.
func wsHandshake(t *testing.T, hs *harness, target string, extra ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, br, resp := wsAttempt(t, hs, target, extra...)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v: status %d, want 101", extra, resp.StatusCode)
	}
	return conn, br
}

func wsAttempt(t *testing.T, hs *harness, target string, extra ...string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	hasUpgrade := false
	for _, h := range extra {
		req += h + "\r\n"
		hasUpgrade = hasUpgrade || strings.HasPrefix(strings.ToLower(h), "upgrade:")
	}
	if !hasUpgrade {
		req += "Upgrade: websocket\r\n"
	}
	_, _ = conn.Write([]byte(req + "\r\n"))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%v: %v", extra, err)
	}
	return conn, br, resp
}

// TestIssue9CrossOriginWebSocketRefused: item 3. A cookie-authenticated
// WebSocket handshake from another origin is refused like a cross-origin
// write; same-origin and Bearer handshakes pass.
func TestIssue9CrossOriginWebSocketRefused(t *testing.T) {
	rec := newRecorder(t)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{
			{Name: "mixed", PathPrefix: "/mixed/", Auth: AuthAny, Upstream: rec.url()},
			{Name: "app", PathPrefix: "/", Auth: AuthSession, Upstream: rec.url()},
		}
	})
	for _, target := range []string{"/app/ws", "/mixed/ws"} {
		for _, h := range []string{"Origin: https://evil.test", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Site: same-site", "Origin: http://x.evil.test"} {
			before := len(rec.seen)
			_, _, resp := wsAttempt(t, hs, target, "Cookie: sid=s1", h)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %q: status %d, want 403", target, h, resp.StatusCode)
			}
			rec.mu.Lock()
			if len(rec.seen) != before {
				t.Errorf("%s %q: the handshake reached the upstream", target, h)
			}
			rec.mu.Unlock()
		}
	}
	wsHandshake(t, hs, "/app/ws", "Cookie: sid=s1", "Origin: http://x")
	wsHandshake(t, hs, "/app/ws", "Cookie: sid=s1", "Sec-Fetch-Site: same-origin", "Origin: http://x")
	wsHandshake(t, hs, "/app/ws", "Cookie: sid=s1")
	// A browser cannot attach a Bearer token cross-site: not affected.
	wsHandshake(t, hs, "/mixed/ws", "Authorization: Bearer good", "Origin: https://evil.test", "Sec-Fetch-Site: cross-site")
	// A plain cross-site GET with the cookie stays allowed (a navigation).
	if resp := hs.do("GET", "/app/page", "Cookie: sid=s1", "Sec-Fetch-Site: cross-site"); resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site GET navigation: status %d, want 200", resp.StatusCode)
	}
}
