package proxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccessLogClipsClientStrings: a client-chosen path of 8 KiB costs the
// access log at most 256 bytes (README "Logs"; issue 9 item 10).
func TestAccessLogClipsClientStrings(t *testing.T) {
	var buf lockedBuffer
	hs := newHarness(t, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	long := "/public/" + strings.Repeat("a", 8<<10)
	if resp := hs.do(http.MethodGet, long); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	hs.proxy.Close() // the access line is written before the handler returns
	var line struct {
		Path string `json:"path"`
	}
	out := strings.TrimSpace(buf.String())
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("access line %q: %v", out, err)
	}
	if len(line.Path) > 256 || !strings.HasPrefix(line.Path, "/public/aaa") {
		t.Errorf("logged path is %d bytes (%.40q…), want the start of the path clipped to 256 bytes", len(line.Path), line.Path)
	}
	if len(out) > 1024 {
		t.Errorf("access line is %d bytes, want under 1 KiB", len(out))
	}
}

// TestAccessLogOff: with Options.NoAccessLog (log.access: false) a request
// writes no access line but is still counted; without it, one line per
// request (README "Logs").
func TestAccessLogOff(t *testing.T) {
	for _, off := range []bool{false, true} {
		var buf lockedBuffer
		hs := newHarness(t, func(o *Options) {
			o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
			o.NoAccessLog = off
		})
		for range 2 {
			resp := hs.do(http.MethodGet, "/public/x")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
		}
		hs.proxy.Close()
		lines := strings.Count(buf.String(), `"msg":"request"`)
		if want := map[bool]int{false: 2, true: 0}[off]; lines != want {
			t.Errorf("NoAccessLog=%v: %d access lines, want %d; log:\n%s", off, lines, want, buf.String())
		}
		if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("public", "none", "allowed")); got != 2 {
			t.Errorf("NoAccessLog=%v: requests counted %v, want 2", off, got)
		}
	}
}
