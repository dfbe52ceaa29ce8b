package proxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
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
