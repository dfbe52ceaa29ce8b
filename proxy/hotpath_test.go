package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// TestErrorPagesOption: Options.ErrorPages answers a browser navigation's
// error with the page, given the request's ID, on the proxy's own refusals
// and in the reserved endpoints; API clients keep the JSON body.
func TestErrorPagesOption(t *testing.T) {
	var seen []string
	page := func(w http.ResponseWriter, r *http.Request, status int, code, _ string) {
		seen = append(seen, code+" "+httpx.RequestID(r))
		w.WriteHeader(status)
	}
	reserved := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, http.StatusNotFound, "not_found", "")
	})
	hs := newHarness(t, func(o *Options) {
		o.ErrorPages = page
		o.Reserved = reserved
		o.Routes = []Route{{Name: "public", PathPrefix: "/public/", Auth: AuthNone}}
	})
	for _, target := range []string{"/nowhere", ReservedPrefix + "nope"} {
		seen = nil
		resp := hs.do("GET", target, "Accept: text/html", "X-Request-Id: rid-"+strings.Trim(target, "/."))
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") == "application/json" {
			t.Errorf("%s: navigation answered %d %s, want 404 from the page", target, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if want := "not_found " + resp.Header.Get(httpx.RequestIDHeader); len(seen) != 1 || seen[0] != want {
			t.Errorf("%s: page saw %q, want [%q]", target, seen, want)
		}
		seen = nil
		resp = hs.do("GET", target, "Accept: application/json")
		if body := errorBody(t, resp); body["error"] != "not_found" || len(seen) != 0 {
			t.Errorf("%s: API client got %v (page calls %q), want the JSON error", target, body, seen)
		}
	}
}

// TestStripAnySpelling: identity and strip_headers names are stripped in
// any case and with "_" for "-", also for names longer than the fold
// buffer and next to non-ASCII ones.
func TestStripAnySpelling(t *testing.T) {
	long := "X-" + strings.Repeat("Very-Long-Name-", 6) + "End"
	s := newStripper([]string{"X-Auth-User", long})
	h := http.Header{
		"X_auth_USER":                      {"admin"},
		strings.ToLower(long):              {"1"},
		strings.ReplaceAll(long, "-", "_"): {"1"},
		"X-Auth-User-Ünïcode":              {"kept"},
		"X-Auth-Userx":                     {"kept"},
	}
	s.strip(h)
	if len(h) != 2 || h["X-Auth-User-Ünïcode"] == nil || h["X-Auth-Userx"] == nil {
		t.Errorf("after strip: %v", h)
	}
	for _, k := range []string{"a", "X_Y-z", strings.Repeat("Ab_", 30), "Ünï_Code", "x\x80_Y"} {
		var buf [64]byte
		if b, ok := foldASCII(buf[:0], k); ok && string(b) != httpx.FoldHeader(k) {
			t.Errorf("foldASCII(%q) = %q, FoldHeader %q", k, b, httpx.FoldHeader(k))
		}
	}
}

// TestAddrText: the access line's client_ip is ip.String() whatever the
// peer address looks like.
func TestAddrText(t *testing.T) {
	for _, c := range []struct{ ip, remote string }{
		{"192.0.2.1", "192.0.2.1:5678"},
		{"192.0.2.1", "[::ffff:192.0.2.1]:5678"},
		{"198.51.100.9", "192.0.2.1:5678"}, // the client from X-Forwarded-For
		{"2001:db8::1", "[2001:db8::1]:443"},
		{"192.0.2.1", "garbage"},
		{"", "192.0.2.1:80"},
	} {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		if got := addrText(ip, c.remote); got != ip.String() {
			t.Errorf("addrText(%s, %q) = %q, want %q", c.ip, c.remote, got, ip.String())
		}
	}
}

// TestClientIPInPlace: clientIP reads X-Forwarded-For in place exactly as
// splitting every line at commas and walking the entries right to left.
func TestClientIPInPlace(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	reference := func(peer netip.Addr, xff []string) netip.Addr {
		if !isTrusted(peer, trusted) || len(xff) == 0 {
			return peer
		}
		var hops []string
		for _, v := range xff {
			hops = append(hops, strings.Split(v, ",")...)
		}
		ip := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return ip
			}
			if ip = a.Unmap(); !isTrusted(ip, trusted) {
				return ip
			}
		}
		return ip
	}
	for _, xff := range [][]string{
		{"6.6.6.6", "9.9.9.9, 10.0.0.2"}, {"9.9.9.9", "10.0.0.2,10.0.0.3"}, {"10.0.0.5", "10.0.0.2"},
		{"9.9.9.9,"}, {",10.0.0.2"}, {""}, {"", "10.0.0.4"}, {" 9.9.9.9 ,  10.0.0.9 "}, {"::ffff:9.9.9.9"},
		{"10.0.0.7, garbage", "10.0.0.2"}, {"2001:db8::1, 10.0.0.1"}, {"9.9.9.9", ""},
	} {
		for _, peer := range []string{"10.0.0.1", "192.0.2.1"} {
			p := netip.MustParseAddr(peer)
			if got, want := clientIP(p, xff, trusted), reference(p, xff); got != want {
				t.Errorf("clientIP(%s, %q) = %s, want %s", peer, xff, got, want)
			}
		}
	}
}

// stubUpstream answers every round trip at once with a small JSON body.
type stubUpstream struct{}

func (stubUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(`{"ok":true}`)),
		Request: r, ContentLength: 11,
	}, nil
}

// TestHotPathAllocations guards the per-request work: a proxied request on
// a none route and on a jwt route (cached verification) allocates at most
// a few times more than a bare httputil.ReverseProxy with the same
// upstream. Both counts include the request, the recorder and the
// ReverseProxy's own work, so only Gatehouse's share is compared; it was
// about 25 before the hot path was trimmed.
func TestHotPathAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate differently")
	}
	up, _ := url.Parse("http://upstream.test")
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.Out.Host = pr.In.Host; pr.SetXForwarded() },
		Transport: stubUpstream{}, BufferPool: bufferPool{},
	}
	h, err := New(Options{
		Routes: []Route{
			{Name: "none", PathPrefix: "/none/", Auth: AuthNone},
			{Name: "jwt", PathPrefix: "/jwt/", Auth: AuthJWT},
		},
		Upstream: up, Transport: stubUpstream{}, Bearer: tokenTable{"good": {id: alice}},
		Headers: Headers{User: "X-Auth-User", Email: "X-Auth-Email", Groups: "X-Auth-Groups", Method: "X-Auth-Method"},
		Metrics: metrics.New(prometheus.NewRegistry(), "test"), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	})
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(hd http.Handler, target, authz string) float64 {
		return testing.AllocsPerRun(200, func() {
			r := httptest.NewRequest("GET", "http://gate.test"+target, nil)
			r.RemoteAddr = "192.0.2.1:4321"
			r.Header.Set("User-Agent", "bench")
			if authz != "" {
				r.Header.Set("Authorization", authz)
			}
			w := httptest.NewRecorder()
			hd.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("%s: status %d", target, w.Code)
			}
		})
	}
	base := allocs(bare, "/x", "")
	for _, c := range []struct {
		target, authz string
		most          float64 // Gatehouse's own allocations, at most
	}{{"/none/x", "", 9}, {"/jwt/x", "Bearer good", 15}} {
		if got := allocs(h, c.target, c.authz) - base; got > c.most {
			t.Errorf("%s: %.0f allocations more than a bare ReverseProxy, want at most %.0f", c.target, got, c.most)
		} else {
			t.Logf("%s: %.0f allocations more than a bare ReverseProxy (%.0f)", c.target, got, base)
		}
	}
}
