package proxy

// Issue 9, items 8 and 9: server.body_timeout and malformed body framing.

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestIssue9MalformedChunkedBodyIs400: item 9. A bad chunked body is the
// client's fault: 400, never 502.
func TestIssue9MalformedChunkedBodyIs400(t *testing.T) {
	hs := newHarness(t, nil)
	for _, body := range []string{"zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcXY0\r\n\r\n", "-1\r\n\r\n"} {
		resp := hs.rawDo("POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", body, resp.StatusCode)
			continue
		}
		if b := errorBody(t, resp); b["error"] != "bad_request" || b["request_id"] == "" {
			t.Errorf("%q: body %v", body, b)
		}
	}
	if got := testutil.ToFloat64(hs.m.UpstreamResponses.WithLabelValues("public", "5xx")); got != 0 {
		t.Errorf("a client's bad body counted as upstream 5xx: %v", got)
	}
	// A well-formed chunked body still passes.
	resp := hs.rawDo("POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if e := echoed(t, resp); e.Body != "abc" {
		t.Errorf("body %q, want abc", e.Body)
	}
}

// bodyUpstream reads each request's body and reports how that ended.
func bodyUpstream(t *testing.T) (*url.URL, chan error) {
	ended := make(chan error, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		ended <- err
		_, _ = w.Write(b)
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	return u, ended
}

// TestIssue9StalledBodyIsCut: item 8. A body that sends one byte and then
// nothing is cut after server.body_timeout: the client gets 408 and the
// upstream's read of the body ends (its connection is released).
func TestIssue9StalledBodyIsCut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	u, ended := bodyUpstream(t)
	hs := newHarness(t, func(o *Options) {
		o.BodyTimeout = timeout
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: u}}
	})
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	_, _ = conn.Write([]byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\na"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	if elapsed < timeout {
		t.Errorf("cut after %v, before the %v timeout", elapsed, timeout)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Error("the upstream read a complete body")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the upstream is still reading the body: its connection was not released")
	}
	// The client connection is closed too.
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("the client connection stayed open")
		}
	}
}

// TestIssue9SlowButSteadyBodyPasses: the timeout is per silence, not per body.
func TestIssue9SlowButSteadyBodyPasses(t *testing.T) {
	const timeout = time.Second
	u, _ := bodyUpstream(t)
	hs := newHarness(t, func(o *Options) {
		o.BodyTimeout = timeout
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: u}}
	})
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = conn.Write([]byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n"))
	for range 15 { // 15 × 100 ms: longer than the timeout in total
		time.Sleep(100 * time.Millisecond)
		_, _ = conn.Write([]byte("z"))
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != strings.Repeat("z", 15) {
		t.Errorf("status %d body %q, want 200 with the whole body", resp.StatusCode, b)
	}
	// The connection is reusable: no deadline left behind.
	time.Sleep(timeout + 200*time.Millisecond)
	_, _ = conn.Write([]byte("GET /again HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("second request on the connection: %v %v", resp, err)
	}
}

// TestBodyTimeoutOverHTTP2: server.body_timeout holds on HTTP/2 streams
// too (ResponseController sets the stream's read deadline), and a complete
// HTTP/2 body still passes.
func TestBodyTimeoutOverHTTP2(t *testing.T) {
	const timeout = 300 * time.Millisecond
	u, ended := bodyUpstream(t)
	h, err := New(Options{
		Routes: []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone}}, Upstream: u,
		BodyTimeout: timeout, Metrics: metrics.New(prometheus.NewRegistry(), "test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	client.Timeout = 15 * time.Second

	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("a")) }() // then nothing
	start := time.Now()
	resp, err := client.Post(srv.URL+"/upload", "text/plain", pr)
	if err != nil {
		t.Fatalf("stalled HTTP/2 body: %v", err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto %s, want HTTP/2", resp.Proto)
	}
	if resp.StatusCode != http.StatusRequestTimeout || time.Since(start) < timeout {
		t.Errorf("stalled HTTP/2 body: status %d after %v, want 408 after %v", resp.StatusCode, time.Since(start), timeout)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Error("the upstream read a complete body")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream is still reading the body")
	}

	resp, err = client.Post(srv.URL+"/upload", "text/plain", strings.NewReader("complete"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "complete" {
		t.Errorf("HTTP/2 body: status %d %q", resp.StatusCode, b)
	}
}
