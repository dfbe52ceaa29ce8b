package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

const slowClientConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
server: {read_header_timeout: 1s, idle_timeout: 1s, shutdown_timeout: 2s}
routes:
  - {name: stream, match: {path_prefix: "/stream/"}, auth: none, upstream: "{{stream}}"}
  - {name: app, match: {path_prefix: "/"}, auth: none}
`

// streamUpstream serves /stream/big (up to 256 MiB as fast as the reader
// takes it, counting bytes written in *written), /stream/long (one line
// every 100 ms for 3 s) and /stream/ws (a WebSocket echo).
func streamUpstream(t *testing.T, written *atomic.Int64) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/stream/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for i := 0; i < 8192 && r.Context().Err() == nil; i++ {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/stream/long", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := range 30 {
			fmt.Fprintf(w, "line %d\n", i)
			_ = rc.Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	mux.Handle("/stream/ws", websocket.Handler(func(c *websocket.Conn) { _, _ = io.Copy(c, c) }))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func startSlowClient(t *testing.T) (*instance, *atomic.Int64) {
	t.Helper()
	var written atomic.Int64
	up := streamUpstream(t, &written)
	return startGatehouse(t, strings.ReplaceAll(slowClientConfig, "{{stream}}", up.URL), nil), &written
}

// dial opens a raw connection to the proxy listener.
func dial(t *testing.T, in *instance) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(in.URL, "http://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// served checks that an ordinary request is answered promptly.
func served(t *testing.T, in *instance, what string) {
	t.Helper()
	start := time.Now()
	resp, _ := get(t, in.URL+"/x")
	if resp.StatusCode != 200 || time.Since(start) > time.Second {
		t.Errorf("%s: an ordinary request got %d in %v, want 200 at once", what, resp.StatusCode, time.Since(start))
	}
}

func TestSlowlorisIsCutByReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	in, _ := startSlowClient(t)
	c := dial(t, in)
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, c) // returns when the server closes the connection
		closed <- time.Since(start)
	}()
	fmt.Fprint(c, "GET /x HTTP/1.1\r\nHost: gatehouse\r\n")
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case d := <-closed:
			if d < 900*time.Millisecond || d > 2500*time.Millisecond {
				t.Errorf("the trickling client was cut after %v, want about read_header_timeout (1s)", d)
			}
			return
		case <-tick.C:
			fmt.Fprintf(c, "X-Trickle-%d: a\r\n", i) // errors once closed; the read side reports it
			if i == 2 {
				served(t, in, "while a slowloris client trickles headers")
			}
		}
	}
}

func TestClientThatNeverReadsHoldsOnlyItsConnection(t *testing.T) {
	t.Parallel()
	in, written := startSlowClient(t)
	c := dial(t, in)
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprint(c, "GET /stream/big HTTP/1.1\r\nHost: gatehouse\r\n\r\n")
	// Wait until the stream is stuck: the socket buffers are full.
	deadline := time.Now().Add(5 * time.Second)
	for prev := int64(-1); ; {
		time.Sleep(300 * time.Millisecond)
		cur := written.Load()
		if cur == prev && cur > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream to a non-reading client never stalled (%d bytes written)", cur)
		}
		prev = cur
	}
	if w := written.Load(); w >= 8192*32<<10 {
		t.Fatalf("the whole 256 MiB went out to a client that never read")
	}
	for i := range 20 {
		served(t, in, fmt.Sprintf("request %d beside a stalled download", i))
	}
	resp, body := get(t, in.URL+"/stream/long")
	if resp.StatusCode != 200 || strings.Count(body, "\n") != 30 {
		t.Errorf("a download beside a stalled one: status %d, %d lines, want 200, 30", resp.StatusCode, strings.Count(body, "\n"))
	}
}

func TestLongDownloadIsNotCut(t *testing.T) {
	t.Parallel()
	in, _ := startSlowClient(t)
	start := time.Now()
	resp, err := http.Get(in.URL + "/stream/long")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if want := fmt.Sprintf("line %d", lines); sc.Text() != want {
			t.Fatalf("got %q, want %q", sc.Text(), want)
		}
		lines++
	}
	if err := sc.Err(); err != nil || lines != 30 {
		t.Errorf("a 3 s download: %d lines, error %v; want 30, nil", lines, err)
	}
	if d := time.Since(start); d < 2900*time.Millisecond {
		t.Errorf("the download took %v; it was not streamed", d)
	}
}

func TestWebSocketOutlivesTimeouts(t *testing.T) {
	t.Parallel()
	in, _ := startSlowClient(t)
	ws, err := websocket.Dial("ws"+strings.TrimPrefix(in.URL, "http")+"/stream/ws", "", in.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range 3 {
		msg := fmt.Sprintf("message %d", i)
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatalf("send after %d quiet gaps longer than idle_timeout: %v", i, err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
			t.Fatalf("got %q (%v), want %q", got, err, msg)
		}
		time.Sleep(1200 * time.Millisecond) // longer than read_header_timeout and idle_timeout
	}
}
