package httpx

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	long := strings.Repeat("a", 59*1024)
	tests := []struct {
		in       string
		wantSame bool
	}{
		{"", true},
		{"alice", true},
		{strings.Repeat("x", ClipBytes), true},
		{strings.Repeat("x", ClipBytes+1), false},
		{long, false},
		{strings.Repeat("é", 300), false}, // 2-byte runes
		{strings.Repeat("😀", 300), false}, // 4-byte runes
		{"\xff" + strings.Repeat("\xfe", 400), false},
	}
	for _, tt := range tests {
		got := Clip(tt.in)
		if tt.wantSame {
			if got != tt.in {
				t.Errorf("Clip(%.20q…) = %.20q…, want it unchanged", tt.in, got)
			}
			continue
		}
		if len(got) > ClipBytes {
			t.Errorf("Clip(%.20q… of %d bytes) has %d bytes, want ≤ %d", tt.in, len(tt.in), len(got), ClipBytes)
		}
		if !strings.HasSuffix(got, "bytes]") || !strings.Contains(got, "…[") {
			t.Errorf("Clip(%.20q…) = %q: the cut is not marked", tt.in, got)
		}
		head := got[:strings.LastIndex(got, "…[")]
		if !strings.HasPrefix(tt.in, head) || len(head) < ClipBytes-32 {
			t.Errorf("Clip(%.20q…) kept %d bytes %.20q…, want a prefix of about %d", tt.in, len(head), head, ClipBytes)
		}
		if utf8.ValidString(tt.in) && !utf8.ValidString(got) {
			t.Errorf("Clip(%.20q…) cut inside a rune: %q", tt.in, got)
		}
	}
}

func TestLogLimiter(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1_800_000_000, 0)
	l := NewLogLimiter(slog.New(slog.NewJSONHandler(&buf, nil)), func() time.Time { return now })
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if ok, n := l.Allow("login rate limited", a); !ok || n != 0 {
		t.Fatalf("first line: Allow = %v, %d; want true, 0", ok, n)
	}
	for range 299 {
		if ok, _ := l.Allow("login rate limited", a); ok {
			t.Fatal("a repeated line within the minute was let through")
		}
	}
	if ok, _ := l.Allow("login failed", a); !ok {
		t.Error("another kind from the same client was held back")
	}
	if ok, _ := l.Allow("login rate limited", b); !ok {
		t.Error("the same kind from another client was held back")
	}
	now = now.Add(time.Minute)
	if ok, n := l.Allow("login rate limited", a); !ok || n != 299 {
		t.Errorf("after a minute: Allow = %v, %d; want true, 299", ok, n)
	}
	l.Allow("login rate limited", a) // held: reported by the flush
	now = now.Add(time.Minute)
	l.Flush()
	if !strings.Contains(buf.String(), `"repeated":1`) || !strings.Contains(buf.String(), `"client_ip":"192.0.2.1"`) {
		t.Errorf("flush wrote %q, want a summary with repeated 1 for 192.0.2.1", buf.String())
	}
	if n := len(l.pairs); n != 0 {
		t.Errorf("%d pairs kept after every window ended, want 0", n)
	}
	var nilL *LogLimiter
	if ok, _ := nilL.Allow("x", a); !ok {
		t.Error("a nil LogLimiter held a line back")
	}
}

func TestLogLimiterBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewLogLimiter(nil, func() time.Time { return now })
	l.max = 100
	base := netip.MustParseAddr("10.0.0.0").As4()
	let := 0
	for i := range 5000 {
		ip := base
		ip[2], ip[3] = byte(i>>8), byte(i)
		if ok, _ := l.Allow("login failed", netip.AddrFrom4(ip)); ok {
			let++
		}
	}
	if n := len(l.pairs); n > l.max+1 {
		t.Errorf("%d pairs after 5000 clients, want ≤ %d", n, l.max+1)
	}
	if let > l.max+1 {
		t.Errorf("%d lines let through for 5000 clients in one minute, want ≤ %d", let, l.max+1)
	}
}
