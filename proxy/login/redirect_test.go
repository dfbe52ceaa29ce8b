package login

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

func TestSafeRedirect(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/app", "/app"},
		{"/app/x?y=1&z=%2F#frag", "/app/x?y=1&z=%2F#frag"},
		{"", "/"},
		{"//evil.com", "/"},
		{"/\\evil.com", "/"},
		{"\\\\evil.com", "/"},
		{"https://evil.com", "/"},
		{"http:/evil.com", "/"},
		{"%2F%2Fevil.com", "/"},
		{"/%2F%2Fevil.com", "/"},
		{"/%5Cevil.com", "/"},
		{"javascript:alert(1)", "/"},
		{"/%0d%0aSet-Cookie:x", "/"},
		{"/\r\nSet-Cookie:x", "/"},
		{"/a\tb", "/"},
		{"/a\x00", "/"},
		{"/\xff", "/"},
		{"/%zz", "/"},
		{"app", "/"},
		{" /app", "/"},
		{"/a\u2028b", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	}
	for _, tt := range tests {
		if got := SafeRedirect(tt.in); got != tt.want {
			t.Errorf("SafeRedirect(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/", "/app?x=1", "//evil.com", "/\\evil", "https://x", "/%0d%0a", "/%2f%2fx", "javascript:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rd string) {
		got := SafeRedirect(rd)
		if got != "/" && got != rd {
			t.Fatalf("SafeRedirect(%q) = %q: want rd unchanged or /", rd, got)
		}
		for _, s := range []string{got, mustUnescape(t, got)} {
			if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
				t.Fatalf("SafeRedirect(%q) = %q: not a local path", rd, got)
			}
			if strings.IndexFunc(s, unicode.IsControl) >= 0 {
				t.Fatalf("SafeRedirect(%q) = %q: control character", rd, got)
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" {
			t.Fatalf("SafeRedirect(%q) = %q: parses as %v, %v", rd, got, u, err)
		}
	})
}

func mustUnescape(t *testing.T, s string) string {
	d, err := url.PathUnescape(s)
	if err != nil {
		t.Fatalf("SafeRedirect returned %q, which does not unescape: %v", s, err)
	}
	return d
}
