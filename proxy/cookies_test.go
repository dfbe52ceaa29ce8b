package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestStripCookies(t *testing.T) {
	names := []string{"gatehouse_session", "gatehouse_csrf", "__Host-gatehouse_csrf"}
	tests := []struct{ in, want []string }{
		{[]string{"gatehouse_session=abc"}, nil},
		{[]string{"a=1; gatehouse_session=abc; b=2"}, []string{"a=1; b=2"}},
		{[]string{"a=1;gatehouse_session=abc"}, []string{"a=1"}},
		{[]string{"gatehouse_session=x; gatehouse_session=y; app=\"q\""}, []string{"app=\"q\""}},
		{[]string{"a=1", "gatehouse_session=abc"}, []string{"a=1"}},
		{[]string{"gatehouse_sessionx=1; xgatehouse_session=2"}, []string{"gatehouse_sessionx=1; xgatehouse_session=2"}},
		{[]string{"app_session=1;  weird = 2 "}, []string{"app_session=1;  weird = 2 "}},
		{[]string{"gatehouse_csrf=t; a=1; __Host-gatehouse_csrf=u"}, []string{"a=1"}},
	}
	for _, tt := range tests {
		h := http.Header{"Cookie": tt.in}
		stripCookies(h, names)
		if got := h.Values("Cookie"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("stripCookies(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if _, ok := h["Cookie"]; ok && tt.want == nil {
			t.Errorf("stripCookies(%q) left an empty Cookie header", tt.in)
		}
	}
}

func FuzzStripCookies(f *testing.F) {
	f.Add("gatehouse_session=" + strings.Repeat("A", 43))
	f.Add("a=1; gatehouse_session=\xff")
	f.Add(";;=;gatehouse_session")
	f.Fuzz(func(t *testing.T, cookie string) {
		h := http.Header{"Cookie": {cookie}}
		stripCookies(h, []string{"gatehouse_session"})
		r := &http.Request{Header: h}
		if _, err := r.Cookie("gatehouse_session"); err == nil {
			t.Fatalf("stripCookies(%q) left the session cookie: %q", cookie, h.Values("Cookie"))
		}
	})
}

func TestOwnCookies(t *testing.T) {
	got := ownCookies(cookieTable{}, []string{"gatehouse_csrf", "", "sid"})
	if strings.Join(got, ",") != "gatehouse_csrf,sid" {
		t.Errorf("ownCookies = %q", got)
	}
	if got := ownCookies(nil, nil); len(got) != 0 {
		t.Errorf("ownCookies(nil, nil) = %q", got)
	}
}

// TestProtectedCookiesNotForwarded: the CSRF cookies (named by the caller
// in ProtectedCookies, since proxy/login owns them) and the session cookie
// (named by Sessions) never reach the upstream, and an upstream cannot
// set the session cookie even when ProtectedCookies omits it.
func TestProtectedCookiesNotForwarded(t *testing.T) {
	hs := newHarness(t, func(o *Options) {
		o.ProtectedCookies = []string{"gatehouse_csrf", "__Host-gatehouse_csrf"}
	})
	e := echoed(t, hs.do("GET", "/app/page", "Cookie: gatehouse_csrf=t; sid=s1; a=1", "Cookie: __Host-gatehouse_csrf=u"))
	if got := e.Headers["Cookie"]; len(got) != 1 || got[0] != "a=1" {
		t.Errorf("upstream Cookie = %q, want a=1 only", got)
	}
	if got := ownCookies(cookieTable{}, nil); len(got) != 1 || got[0] != "sid" {
		t.Errorf("ownCookies without ProtectedCookies = %q, want the session cookie", got)
	}
}
