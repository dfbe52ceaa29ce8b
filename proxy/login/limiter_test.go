package login

import (
	"net/netip"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"5/min", Rate{5, time.Minute}, true},
		{"30/min", Rate{30, time.Minute}, true},
		{"2/s", Rate{2, time.Second}, true},
		{"100/h", Rate{100, time.Hour}, true},
		{" 7 / hour ", Rate{7, time.Hour}, true},
		{"0/min", Rate{}, false},
		{"-1/min", Rate{}, false},
		{"5", Rate{}, false},
		{"5/day", Rate{}, false},
		{"x/min", Rate{}, false},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if _, err := NewLimiter("5/min", "bad"); err == nil {
		t.Error(`NewLimiter("5/min", "bad") succeeded`)
	}
}

func TestLimiterPerUserAndPerIP(t *testing.T) {
	l, err := NewLimiter("3/min", "5/min")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l.now = c.Now
	ip := netip.MustParseAddr("192.0.2.1")
	other := netip.MustParseAddr("192.0.2.2")
	for range 3 {
		l.Failed("alice", ip)
	}
	ok, wait := l.Allow("alice", ip)
	if ok || wait <= 0 || wait > 20*time.Second {
		t.Errorf("after 3 failures of 3/min: Allow = %v, %v; want false, ≤20s", ok, wait)
	}
	if ok, _ := l.Allow("alice", other); !ok {
		t.Error("another IP is limited by alice's failures elsewhere")
	}
	if ok, _ := l.Allow("bob", ip); !ok {
		t.Error("another user from the same IP is limited before the per-IP limit")
	}
	l.Failed("bob", ip)
	l.Failed("carol", ip)
	if ok, _ := l.Allow("dave", ip); ok {
		t.Error("per-IP limit (5/min) not applied after 5 failures with several usernames")
	}
	c.Add(wait)
	if ok, _ := l.Allow("alice", ip); !ok {
		t.Errorf("still limited after the Retry-After of %v", wait)
	}
	var nilLimiter *Limiter
	if ok, _ := nilLimiter.Allow("x", ip); !ok {
		t.Error("nil Limiter refused")
	}
}

func TestLimiterMemoryBounded(t *testing.T) {
	l, err := NewLimiter("5/min", "30/min")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l.now = c.Now
	l.max = 1000
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range 5000 {
		a := base
		a[2], a[3] = byte(i>>8), byte(i)
		l.Failed("u", netip.AddrFrom4(a))
	}
	if n := len(l.buckets); n > l.max {
		t.Errorf("buckets = %d after 5000 IPs, want ≤ %d", n, l.max)
	}
	c.Add(2 * time.Minute) // every bucket refills: all idle
	l.Failed("last", netip.MustParseAddr("192.0.2.9"))
	if n := len(l.buckets); n != 2 {
		t.Errorf("buckets = %d after the idle sweep, want 2", n)
	}
}
