package httpx

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestKeepOrNewRequestID(t *testing.T) {
	for _, keep := range []string{"a", "abc-123_X.y", strings.Repeat("z", 128)} {
		if got := KeepOrNewRequestID(keep); got != keep {
			t.Errorf("KeepOrNewRequestID(%q) = %q, want it kept", keep, got)
		}
	}
	for _, bad := range []string{"", strings.Repeat("z", 129), "a b", "a\nb", "é", "a/b"} {
		got := KeepOrNewRequestID(bad)
		if got == bad || len(got) != 32 {
			t.Errorf("KeepOrNewRequestID(%q) = %q, want a new 32-digit ID", bad, got)
		}
	}
}

func TestPeerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:80":         "192.0.2.1",
		"[::ffff:192.0.2.1]:1": "192.0.2.1",
		"[2001:db8::1]:443":    "2001:db8::1",
		"192.0.2.1":            "invalid IP",
		"":                     "invalid IP",
		"@":                    "invalid IP",
	} {
		if got := PeerAddr(in).String(); got != want {
			t.Errorf("PeerAddr(%q) = %s, want %s", in, got, want)
		}
	}
	if PeerAddr("x").IsValid() || PeerAddr("x") != (netip.Addr{}) {
		t.Error("PeerAddr of garbage is not the zero Addr")
	}
}

func TestFoldHeader(t *testing.T) {
	for _, name := range []string{"X-Auth-User", "x_auth_user", "X_AUTH-USER"} {
		if got := FoldHeader(name); got != "x-auth-user" {
			t.Errorf("FoldHeader(%q) = %q", name, got)
		}
	}
}

// TestRefusePath pins the one path rule: the raw request target is also
// refused for encoded separators; a config route path only for the
// characters and segments that can never reach routing.
func TestRefusePath(t *testing.T) {
	for _, tc := range []struct {
		p            string
		raw, written string
	}{
		{"/a/b", "", ""},
		{"a", PathNoSlash, PathNoSlash},
		{"", PathNoSlash, PathNoSlash},
		{"/a\\b", "backslash in path", "backslash in path"},
		{"/a;b", "semicolon in path", "semicolon in path"},
		{"/a\x00", "NUL in path", "NUL in path"},
		{"/a/../b", PathDotSegment, PathDotSegment},
		{"/a/.", PathDotSegment, PathDotSegment},
		{"/a%2Fb", "encoded slash in path", ""},
		{"/a%2e%2e/b", "encoded dot in path", ""},
		{"/a%5c", "encoded backslash in path", ""},
		{"/a%00", "encoded NUL in path", ""},
		{"/a%3B", "encoded semicolon in path", ""},
		{"/a%41", "", ""},
	} {
		if got := RefusePath(tc.p, true); got != tc.raw {
			t.Errorf("RefusePath(%q, true) = %q, want %q", tc.p, got, tc.raw)
		}
		if got := RefusePath(tc.p, false); got != tc.written {
			t.Errorf("RefusePath(%q, false) = %q, want %q", tc.p, got, tc.written)
		}
	}
}

func TestLogLimiterWarn(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Unix(1000, 0)
	l := NewLogLimiter(nil, func() time.Time { return now })
	ip := netip.MustParseAddr("192.0.2.1")
	l.Warn(log, "login failed", ip, "event", "login")
	l.Warn(log, "login failed", ip, "event", "login")
	now = now.Add(LogWindow + time.Second)
	l.Warn(log, "login failed", ip, "event", "login")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "repeated") || !strings.HasSuffix(lines[1], "event=login repeated=1") {
		t.Errorf("lines:\n%s\nwant two, the second with event=login repeated=1", buf.String())
	}
}

// TestRefuseMethod pins the one method rule that the proxy refuses
// requests with and config checks route methods with.
func TestRefuseMethod(t *testing.T) {
	for m, want := range map[string]string{
		"GET": "", "M-SEARCH": "", "PROPFIND": "", "X~1": "",
		"":      "empty method",
		"get":   "method names are upper case",
		"GeT":   "method names are upper case",
		"G T":   "method is not a token",
		"GÉT":   "method is not a token",
		"g\x00": "method names are upper case",
	} {
		if got := RefuseMethod(m); got != want {
			t.Errorf("RefuseMethod(%q) = %q, want %q", m, got, want)
		}
	}
	for s, want := range map[string]bool{"X-Auth-User": true, "a_b": true, "": false, "a b": false, "a:b": false, "é": false} {
		if IsToken(s) != want {
			t.Errorf("IsToken(%q) = %v", s, !want)
		}
	}
}
